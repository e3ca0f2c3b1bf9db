"""Plain handlers: one micro-batch of ``RawEvent`` in, ``Outputs`` out, no Faust anywhere.

The agents (``streams.agents``) feed them and publish what they return; keeping Kafka out
of here is what lets every rule be unit-tested with plain lists.
"""
