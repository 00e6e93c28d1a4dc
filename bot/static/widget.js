/*
 * Help-desk chat widget. Embed with one tag:
 *   <script src="https://HOST/widget.js" data-title="伙伴中心助手" data-lang="zh" async></script>
 * Everything lives in a Shadow DOM; all server text is inserted as text, never as HTML.
 * No framework, no build step, no requests anywhere but the API host the script came from.
 */
(() => {
  "use strict";
  if (window.__helpdeskWidget) return; // loaded twice: keep the first
  window.__helpdeskWidget = true;

  const script =
    document.currentScript ||
    Array.from(document.querySelectorAll('script[src*="widget.js"]')).pop();
  if (!script) return;
  const API = new URL(script.dataset.api || ".", new URL(script.src, location.href)).href;
  const docLang = (document.documentElement.lang || "").toLowerCase();
  const LANG = (script.dataset.lang || (docLang.startsWith("en") ? "en" : "zh")).startsWith("en")
    ? "en"
    : "zh";
  const STORE_KEY = "helpdesk-widget:" + API;
  const MAX_TURNS = 10; // user+assistant pairs sent as history
  const MAX_CHARS = 2000; // the API refuses longer questions
  const MAX_KEPT = 60; // messages kept in sessionStorage
  const MAX_TURN_CHARS = 8000; // the API refuses longer history messages

  const TEXT = {
    zh: {
      title: "帮助中心助手",
      open: "打开帮助助手",
      close: "关闭",
      reset: "新对话",
      resetLabel: "清空对话并重新开始",
      input: "输入您的问题",
      placeholder: "输入问题,按 Enter 发送",
      send: "发送",
      hello: "您好!请输入关于伙伴中心的问题,我会从帮助文档中查找答案并注明出处。",
      thinking: "正在查找…",
      sources: "出处",
      showSource: "查看出处",
      openPage: "打开原文",
      helpful: "这个回答有帮助吗?",
      up: "有帮助",
      down: "没有帮助",
      thanks: "谢谢您的反馈!",
      error: "抱歉,出错了:",
      network: "无法连接到服务,请稍后再试。",
      tooLong: "问题太长了(最多 2000 字)。",
      related: "您可以试试这些主题:",
      you: "您",
      bot: "助手",
    },
    en: {
      title: "Help assistant",
      open: "Open the help assistant",
      close: "Close",
      reset: "New chat",
      resetLabel: "Clear the conversation and start again",
      input: "Your question",
      placeholder: "Ask a question, press Enter to send",
      send: "Send",
      hello: "Hello! Ask about the partner center; I answer from the help pages and cite them.",
      thinking: "Searching…",
      sources: "Sources",
      showSource: "Show source",
      openPage: "Open the page",
      helpful: "Was this helpful?",
      up: "Helpful",
      down: "Not helpful",
      thanks: "Thanks for your feedback!",
      error: "Sorry, something went wrong: ",
      network: "Cannot reach the service, please try again later.",
      tooLong: "The question is too long (2,000 characters at most).",
      related: "You could try these topics:",
      you: "You",
      bot: "Assistant",
    },
  }[LANG];
  const TITLE = script.dataset.title || TEXT.title;

  const CSS = `
:host { all: initial !important; display: block !important; position: static !important;
  font: 14px/1.55 system-ui, -apple-system, "Segoe UI", "PingFang SC", "Microsoft YaHei",
  "WenQuanYi Micro Hei", sans-serif !important; color: #1f2933 !important; }
*, *::before, *::after { box-sizing: border-box; font: inherit; letter-spacing: normal;
  text-transform: none; }
[hidden] { display: none !important; }
:focus-visible { outline: 3px solid #f59e0b; outline-offset: 2px; }
button { font: inherit; cursor: pointer; border: 0; margin: 0; display: inline-block;
  visibility: visible; }
.launcher { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; width: 56px;
  height: 56px; border-radius: 50%; background: #c7000b; color: #fff; font-size: 26px;
  line-height: 56px; text-align: center; padding: 0; box-shadow: 0 4px 14px rgba(0,0,0,.25); }
.launcher:hover { background: #a30009; }
.panel { position: fixed; right: 20px; bottom: 88px; z-index: 2147483001; width: 380px;
  height: min(620px, calc(100vh - 110px)); display: flex; flex-direction: column;
  background: #fff; border-radius: 12px; box-shadow: 0 10px 40px rgba(0,0,0,.3);
  overflow: hidden; }
header { display: flex; align-items: center; gap: 8px; padding: 10px 12px; background: #c7000b;
  color: #fff; }
h2 { flex: 1; margin: 0; font-size: 16px; font-weight: 600; }
header button { background: transparent; color: #fff; border-radius: 6px; padding: 4px 8px;
  font-size: 13px; }
header button:hover { background: rgba(255,255,255,.18); }
header .close { font-size: 20px; line-height: 1; }
.log { flex: 1; overflow-y: auto; padding: 12px; background: #f5f6f8; }
.msg { margin: 0 0 12px; max-width: 92%; padding: 8px 11px; border-radius: 10px;
  white-space: pre-wrap; word-break: break-word; }
.user { margin-left: auto; background: #c7000b; color: #fff; border-bottom-right-radius: 3px; }
.bot { background: #fff; border: 1px solid #e1e4e8; border-bottom-left-radius: 3px; }
.bot.refused { background: #fff8e6; }
.bot.error { background: #fdecec; color: #8a1116; }
.line { display: block; }
.cite { background: #e8eefc; color: #1d4ed8; border-radius: 4px; padding: 0 4px; margin: 0 1px;
  font-size: 12px; line-height: 18px; vertical-align: 1px; }
.cite[aria-expanded="true"] { background: #1d4ed8; color: #fff; }
.notes { margin: 8px 0 0; padding: 0; list-style: none; white-space: normal; }
.note { margin: 6px 0 0; padding: 7px 9px; border-left: 3px solid #1d4ed8; background: #f3f6fd;
  border-radius: 4px; font-size: 13px; }
.note-title { font-weight: 600; }
.note-crumb { color: #5f6b7a; font-size: 12px; }
blockquote { margin: 4px 0; padding: 0; color: #374151; }
a { color: #1d4ed8; }
.chips { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 6px; white-space: normal; }
.chip { background: #eef0f3; color: #1f2933; border-radius: 14px; padding: 3px 10px;
  font-size: 13px; }
.rate { display: flex; align-items: center; gap: 6px; margin-top: 8px; color: #5f6b7a;
  font-size: 12px; white-space: normal; }
.rate button { background: #eef0f3; color: #3b4654; border-radius: 6px; padding: 4px 8px;
  line-height: 0; }
.rate svg { width: 16px; height: 16px; fill: currentColor; }
.rate svg.flip { transform: rotate(180deg); }
.rate button:hover { background: #dde1e6; }
form { display: flex; gap: 8px; padding: 10px; border-top: 1px solid #e1e4e8; background: #fff;
  margin: 0; }
textarea { flex: 1; min-width: 0; width: auto; resize: none; height: 44px; max-height: 120px;
  padding: 10px; border: 1px solid #c9ced6; border-radius: 8px; font-size: 16px;
  line-height: 1.4; color: #1f2933; background: #fff; display: block; }
.send { background: #c7000b; color: #fff; border-radius: 8px; padding: 0 14px; }
.send:disabled { background: #b8bec6; cursor: default; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0);
  white-space: nowrap; }
@media (max-width: 480px) {
  .panel { left: 0; right: 0; top: 0; bottom: 0; width: 100%; height: 100%; border-radius: 0; }
  .launcher { right: 14px; bottom: 14px; }
}`;

  // ---- DOM helpers: text only, never innerHTML ---------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === false || value == null) continue;
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child == null || child === false) continue;
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }
  // A thumb icon drawn in SVG: emoji fonts are missing on many servers and kiosks.
  function thumb(down) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    if (down) svg.setAttribute("class", "flip");
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", "M2 21h4V9H2v12zm20-11a2 2 0 0 0-2-2h-6.3l1-4.6v-.3c0-.4-.2-.8-.5" +
      "-1.1L13.2 1 6.6 7.6C6.2 8 6 8.5 6 9v10a2 2 0 0 0 2 2h9c.8 0 1.5-.5 1.8-1.2l3-7.1c.1-.2" +
      ".2-.5.2-.7v-2z");
    svg.append(path);
    return svg;
  }
  const safeUrl = (url) => {
    try {
      const parsed = new URL(url);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch {
      return null;
    }
  };

  // ---- state (per browser session) ----------------------------------------------------
  let state = { open: false, messages: [] };
  try {
    const saved = JSON.parse(sessionStorage.getItem(STORE_KEY) || "null");
    if (saved && Array.isArray(saved.messages)) state = saved;
  } catch {
    /* storage unavailable or corrupt: start fresh */
  }
  const save = () => {
    state.messages = state.messages.slice(-MAX_KEPT);
    try {
      sessionStorage.setItem(STORE_KEY, JSON.stringify(state));
    } catch {
      /* private mode or full: the conversation just isn't kept */
    }
  };
  // The turns sent for follow-ups: questions with their answers; a failed exchange is left out.
  const history = () => {
    const turns = [];
    state.messages.forEach((m, i) => {
      const reply = m.role === "user" ? state.messages[i + 1] : m;
      if (reply && reply.role === "assistant" && !reply.error && reply.content) {
        turns.push({ role: m.role, content: String(m.content).slice(0, MAX_TURN_CHARS) });
      }
    });
    return turns.slice(-2 * MAX_TURNS);
  };

  // ---- the shadow tree ----------------------------------------------------------------
  const host = el("div", { "data-helpdesk-widget": "" });
  const root = host.attachShadow({ mode: "open" });
  const uid = "hd" + Math.random().toString(36).slice(2, 8);
  const launcher = el(
    "button",
    {
      class: "launcher",
      type: "button",
      "aria-label": TEXT.open,
      "aria-expanded": "false",
      "aria-controls": uid + "-panel",
      title: TITLE,
    },
    "?"
  );
  const log = el("div", { class: "log", role: "log", "aria-live": "polite", tabindex: "0",
    "aria-label": TITLE });
  const input = el("textarea", {
    id: uid + "-q",
    rows: "1",
    maxlength: String(MAX_CHARS),
    "aria-label": TEXT.input,
    placeholder: TEXT.placeholder,
    autocomplete: "off",
  });
  const send = el("button", { class: "send", type: "submit" }, TEXT.send);
  const form = el("form", { onsubmit: (e) => { e.preventDefault(); ask(input.value); } },
    input, send);
  const reset = el("button", { type: "button", class: "reset", "aria-label": TEXT.resetLabel,
    onclick: () => {
      if (busy) return; // an answer is on its way into this conversation
      state.messages = [];
      save();
      renderAll();
      input.focus();
    } }, TEXT.reset);
  const closeBtn = el("button", { type: "button", class: "close", "aria-label": TEXT.close,
    onclick: () => toggle(false) }, "×");
  const panel = el(
    "div",
    { class: "panel", id: uid + "-panel", role: "dialog", "aria-label": TITLE, hidden: true },
    el("header", null, el("h2", null, TITLE), reset, closeBtn),
    log,
    form
  );
  root.append(el("style", null, CSS), launcher, panel);

  function toggle(open, moveFocus = true) {
    state.open = open;
    save();
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", String(open));
    if (open) log.scrollTop = log.scrollHeight;
    if (moveFocus) (open ? input : launcher).focus();
  }
  launcher.addEventListener("click", () => toggle(panel.hidden));
  panel.addEventListener("keydown", (e) => {
    if (e.key === "Escape") {
      e.stopPropagation();
      toggle(false);
    }
  });
  input.addEventListener("keydown", (e) => {
    // Enter sends; Shift+Enter is a new line; Enter while an IME composes picks a candidate.
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      ask(input.value);
    }
  });

  // ---- rendering ----------------------------------------------------------------------
  function renderAnswerText(text, citations, notes) {
    const byN = new Map(citations.map((c) => [c.n, c]));
    const frag = document.createDocumentFragment();
    for (const line of String(text).split("\n")) {
      const span = el("span", { class: "line" });
      for (const [i, part] of line.split(/\[(\d+)\]/).entries()) {
        if (i % 2 === 0) {
          if (part) span.append(document.createTextNode(part));
        } else if (byN.has(Number(part))) {
          span.append(citeButton(Number(part), notes));
        } else {
          span.append(document.createTextNode("[" + part + "]"));
        }
      }
      frag.append(span);
    }
    return frag;
  }

  function citeButton(n, notes) {
    const id = notes.dataset.prefix + "-" + n;
    const btn = el("button", { type: "button", class: "cite", "aria-expanded": "false",
      "aria-controls": id, "aria-label": TEXT.showSource + " " + n, "data-n": n }, `[${n}]`);
    btn.addEventListener("click", () => {
      const note = notes.querySelector(`[data-n="${n}"]`);
      const open = note.hidden;
      note.hidden = !open;
      notes.hidden = !notes.querySelector(".note:not([hidden])");
      for (const b of notes.parentNode.querySelectorAll(`.cite[data-n="${n}"]`)) {
        b.setAttribute("aria-expanded", String(open));
      }
      if (open) note.scrollIntoView({ block: "nearest" });
    });
    return btn;
  }

  function renderNotes(citations, prefix) {
    const notes = el("ol", { class: "notes", "aria-label": TEXT.sources, hidden: true });
    notes.dataset.prefix = prefix;
    for (const c of citations) {
      const url = c.source && safeUrl(c.source.url);
      const where = c.source && (c.source.url || c.source.path);
      notes.append(
        el(
          "li",
          { class: "note", id: prefix + "-" + c.n, "data-n": c.n, hidden: true },
          el("div", { class: "note-title" }, `[${c.n}] `, c.title || where || ""),
          c.breadcrumb ? el("div", { class: "note-crumb" }, c.breadcrumb) : null,
          el("blockquote", null, c.quote || ""),
          url
            ? el("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, TEXT.openPage)
            : where
              ? el("div", { class: "note-crumb" }, where)
              : null
        )
      );
    }
    return notes;
  }

  function renderFeedback(answerId, msg) {
    const box = el("div", { class: "rate" });
    if (msg.rated) {
      box.append(TEXT.thanks);
      return box;
    }
    const rate = async (rating) => {
      box.replaceChildren(TEXT.thanks);
      box.setAttribute("role", "status");
      msg.rated = rating;
      save();
      try {
        await fetch(API + "api/feedback", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ answer_id: answerId, rating }),
        });
      } catch {
        /* feedback is best effort */
      }
    };
    box.append(
      el("span", null, TEXT.helpful),
      el("button", { type: "button", class: "up", "aria-label": TEXT.up, title: TEXT.up,
        onclick: () => rate("up") }, thumb(false)),
      el("button", { type: "button", class: "down", "aria-label": TEXT.down, title: TEXT.down,
        onclick: () => rate("down") }, thumb(true))
    );
    return box;
  }

  let counter = 0;
  function renderBot(msg, node) {
    const data = msg.data || {};
    const citations = Array.isArray(data.citations) ? data.citations : [];
    const prefix = uid + "-c" + ++counter;
    const notes = renderNotes(citations, prefix);
    node.className = "msg bot" + (msg.error ? " error" : data.refused ? " refused" : "");
    node.replaceChildren(el("span", { class: "sr" }, TEXT.bot + ": "));
    if (msg.error) {
      node.append(TEXT.error + msg.content);
      return node;
    }
    node.append(renderAnswerText(msg.content, citations, notes), notes);
    const suggestions = Array.isArray(data.suggestions) ? data.suggestions : [];
    if (suggestions.length) {
      node.append(el("div", { class: "chips" }, el("span", null, TEXT.related),
        ...suggestions.map((s) =>
          el("button", { type: "button", class: "chip", onclick: () => ask(s) }, String(s)))));
    }
    if (data.id) node.append(renderFeedback(data.id, msg));
    return node;
  }

  function renderMessage(msg) {
    if (msg.role === "user") {
      return el("div", { class: "msg user" }, el("span", { class: "sr" }, TEXT.you + ": "),
        msg.content);
    }
    return renderBot(msg, el("div"));
  }

  function renderAll() {
    log.replaceChildren();
    if (!state.messages.length) log.append(el("div", { class: "msg bot" }, TEXT.hello));
    for (const msg of state.messages) log.append(renderMessage(msg));
    log.scrollTop = log.scrollHeight;
  }

  // ---- talking to the API -------------------------------------------------------------
  // Server-Sent Events over fetch (EventSource cannot POST): frames end with a blank line.
  async function* sseEvents(response) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
      const frames = buffer.split(/\r?\n\r?\n/);
      buffer = done ? "" : frames.pop();
      for (const frame of frames) {
        let event = "message";
        const data = [];
        for (const line of frame.split(/\r?\n/)) {
          if (line.startsWith("event:")) event = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        }
        if (data.length) yield { event, data: JSON.parse(data.join("\n")) };
      }
      if (done) return;
    }
  }

  async function errorText(response) {
    try {
      const body = await response.json();
      const detail = body.message ?? body.detail ?? body;
      if (typeof detail === "string") return detail;
      if (Array.isArray(detail)) return detail.map((d) => d.msg || JSON.stringify(d)).join("; ");
      return JSON.stringify(detail);
    } catch {
      return `HTTP ${response.status}`;
    }
  }

  let busy = false;
  async function ask(raw) {
    const question = String(raw || "").trim();
    if (!question || busy) return;
    if (question.length > MAX_CHARS) {
      log.append(renderBot({ role: "assistant", error: true, content: TEXT.tooLong },
        el("div")));
      return;
    }
    busy = true;
    send.disabled = true;
    log.setAttribute("aria-busy", "true");
    const past = history();
    if (!state.messages.length) log.replaceChildren();
    const userMsg = { role: "user", content: question };
    state.messages.push(userMsg);
    save();
    input.value = "";
    log.append(renderMessage(userMsg));
    const node = el("div", { class: "msg bot streaming" }, TEXT.thinking);
    log.append(node);
    log.scrollTop = log.scrollHeight;
    const msg = { role: "assistant", content: "", data: null };
    let streamed = "";
    try {
      const response = await fetch(API + "api/chat/stream", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
        body: JSON.stringify({ question, history: past }),
      });
      if (!response.ok) throw new Error(await errorText(response));
      for await (const { event, data } of sseEvents(response)) {
        if (event === "delta") {
          streamed += data.text || "";
          node.replaceChildren(streamed); // raw while streaming; verified text replaces it
        } else if (event === "answer") {
          const { hits, ...kept } = data; // hits are large and only the console needs them
          msg.content = data.answer;
          msg.data = kept;
          renderBot(msg, node);
        } else if (event === "error") {
          throw new Error(data.message || "error");
        }
        log.scrollTop = log.scrollHeight;
      }
      if (!msg.data) {
        if (!streamed) throw new Error("empty answer");
        msg.content = streamed;
        renderBot(msg, node);
      }
    } catch (err) {
      msg.error = true;
      msg.content = err instanceof TypeError ? TEXT.network : String(err.message || err);
      renderBot(msg, node);
    } finally {
      node.classList.remove("streaming");
      state.messages.push(msg);
      save();
      busy = false;
      send.disabled = false;
      log.removeAttribute("aria-busy");
      log.scrollTop = log.scrollHeight;
      if (!panel.hidden) input.focus();
    }
  }

  // ---- start --------------------------------------------------------------------------
  const mount = () => {
    document.body.append(host);
    renderAll();
    if (state.open) toggle(true, false); // reopened after navigation: don't steal focus
  };
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
