"""Exporters: a trained model written in another runtime's format (ONNX, :mod:`.onnx`).

Loading an export for inference lives beside the classifier, in :mod:`emo_pillars.modeling`.
"""
