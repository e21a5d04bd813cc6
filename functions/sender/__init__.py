"""`spillway sender`: delivers the outbox (signed callbacks, completion events); see run.py."""
