"""Evaluation: replay FAQ sets against the bot and score them."""
