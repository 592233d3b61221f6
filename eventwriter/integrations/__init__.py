"""Adapters for training frameworks, one module per framework, each imported only when used.

``import eventwriter`` imports none of them, and none imports TensorFlow, ``tensorboard`` or
tensorboardX. Each needs its framework (``pip install "eventwriter[<framework>]"``).
"""
