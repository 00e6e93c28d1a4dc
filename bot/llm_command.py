"""`helpdesk llm`: join the local LLM's weights once and serve them on 127.0.0.1."""

from __future__ import annotations

import click

from bot.local_llm import ALIAS, LLMServer, assemble, require_runtime
from ingest.settings import get_settings


@click.command()
@click.option("--port", default=8081, show_default=True, type=click.IntRange(1, 65535))
@click.option("--threads", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--context", default=4096, show_default=True, type=click.IntRange(512, 32768))
def llm(port: int, threads: int, context: int) -> None:
    """Serve Qwen2.5-Coder-1.5B (installed by `make llm-install`) as an OpenAI endpoint."""
    settings = get_settings()
    require_runtime()
    click.echo("joining the weights (once) ...", err=True)
    model = assemble(settings.data_dir / "models")
    server = LLMServer(model, port=port, threads=threads, context=context)
    process = server.start()
    try:
        server.wait_ready(process)
        click.echo(
            f"serving {model.name} on {server.base_url}; answer with it by setting\n"
            f"  HELPDESK_LLM=openai:{ALIAS} HELPDESK_LLM_BASE_URL={server.base_url} "
            "HELPDESK_LLM_API_KEY=local",
            err=True,
        )
        code = process.wait()
    except KeyboardInterrupt:
        return
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)
    if code:
        raise click.ClickException(f"the LLM server exited with code {code}")
