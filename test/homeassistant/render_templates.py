"""Renders Home Assistant value templates the way Home Assistant does: Jinja2's immutable sandbox, with
`value` the payload and `value_json` the payload parsed as JSON. Reads {"payload": str, "templates": [str]}
on stdin and prints the rendered strings as a JSON list."""
import json
import sys

from jinja2.sandbox import ImmutableSandboxedEnvironment

request = json.load(sys.stdin)
env = ImmutableSandboxedEnvironment()
variables = {"value": request["payload"], "value_json": json.loads(request["payload"])}
print(json.dumps([env.from_string(t).render(**variables) for t in request["templates"]]))
