"""The router's pipelines beyond ``direct``: each turns a request into provider calls."""
