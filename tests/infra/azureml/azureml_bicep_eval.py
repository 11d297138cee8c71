"""A tiny evaluator for the Bicep subset used by infra/azureml/*.bicep, over pycep-parser's JSON tree.

Enough to render resource properties for given parameter values, so tests can compare the Bicep
template with the SDK's REST bodies. Resource references (``x.id``, ``resourceId(...)``) evaluate to
markers such as ``"<environmentVersionResource.id>"``; ``subscription()`` and ``resourceGroup()`` take
their values from ``scope`` (markers by default). pycep writes identifiers and string literals alike as
plain strings: a string naming a parameter or variable is read as that identifier. A parameter without a
default must be given (pycep records its default as None).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

INTERPOLATION = re.compile(r"\$\{(\w+)\}")
DEFAULT_SCOPE = {
    "subscriptionId": "<subscription.subscriptionId>",
    "resourceGroup": "<resourceGroup.name>",
    "location": "<resourceGroup.location>",
}


def parse(path: Path) -> dict[str, Any]:
    """pycep JSON tree of a Bicep file (raises on syntax pycep's grammar rejects)."""
    from pycep import BicepParser

    return dict(BicepParser(cache=False).parse(file_path=path))


class BicepEval:
    """Evaluate expressions of one parsed template with ``params`` (others take their defaults)."""

    def __init__(self, doc: dict[str, Any], params: dict[str, Any], scope: dict[str, str] | None = None) -> None:
        self.doc = doc
        self.scope = {**DEFAULT_SCOPE, **(scope or {})}
        declared = doc.get("parameters", {})
        unknown = set(params) - set(declared)
        if unknown:
            raise KeyError(f"not parameters of the template: {sorted(unknown)}")
        self.params = {name: params[name] for name in params}
        self.declared = declared
        self.variables = doc.get("variables", {})
        self.symbols = set(doc.get("resources", {})) | set(doc.get("modules", {}))

    def param(self, name: str) -> Any:
        if name not in self.params:
            if self.declared[name].get("default") is None:
                raise KeyError(f"required parameter {name} not given")
            self.params[name] = self.ev(self.declared[name]["default"])
        return self.params[name]

    def ev(self, node: Any) -> Any:  # noqa: C901 - one branch per node kind
        if node is None or isinstance(node, bool | int | float):
            return node
        if isinstance(node, str):
            if node in self.declared:
                return self.param(node)
            if node in self.variables:
                return self.ev(self.variables[node]["value"])
            if node in self.symbols:
                return f"<{node}>"
            return INTERPOLATION.sub(lambda m: str(self.ev(m.group(1))), node)
        if isinstance(node, list):
            return [self.ev(item) for item in node]
        if isinstance(node, dict):
            if set(node) == {"operator"}:
                return self._operator(node["operator"]["type"], node["operator"]["operands"])
            if set(node) == {"function"}:
                return self._function(node["function"]["type"], node["function"]["parameters"])
            return {self._key(key): self.ev(value) for key, value in node.items()}
        raise TypeError(f"unsupported node {node!r}")

    def _key(self, key: str) -> str:
        """Object keys are literal names; only quoted keys ('${x}') interpolate."""
        if key.startswith("'") and key.endswith("'"):
            return INTERPOLATION.sub(lambda m: str(self.ev(m.group(1))), key[1:-1])
        return key

    def _operator(self, kind: str, ops: dict[str, Any]) -> Any:
        if kind == "conditional":
            return self.ev(ops["true_value"] if self.ev(ops["condition"]) else ops["false_value"])
        if kind == "property_accessor":
            # pycep nests a.b.c as accessor(a, accessor(b, c)); flatten to a path.
            path = [ops["operand_1"]]
            tail = ops["operand_2"]
            while isinstance(tail, dict) and tail.get("operator", {}).get("type") == "property_accessor":
                path.append(tail["operator"]["operands"]["operand_1"])
                tail = tail["operator"]["operands"]["operand_2"]
            path.append(tail)
            head, names = path[0], [str(name) for name in path[1:]]
            if isinstance(head, str) and head in self.symbols:  # runtime property of a resource
                return "<" + ".".join([head, *names]) + ">"
            value = self.ev(head)
            for name in names:
                value = value[name]
            return value
        if kind == "not":
            return not self.ev(ops["bool_value"])
        if kind == "and":
            return self.ev(ops["operand_1"]) and self.ev(ops["operand_2"])
        if kind == "or":
            return self.ev(ops["operand_1"]) or self.ev(ops["operand_2"])
        a, b = self.ev(ops["operand_1"]), self.ev(ops["operand_2"])
        arithmetic = {
            "equals": lambda: a == b,
            "not_equals": lambda: a != b,
            "greater_than": lambda: a > b,
            "greater_than_or_equals": lambda: a >= b,
            "less_than": lambda: a < b,
            "less_than_or_equals": lambda: a <= b,
            "add": lambda: a + b,
            "substract": lambda: a - b,
            "multiply": lambda: a * b,
            "divide": lambda: a // b,  # Bicep ints divide as integers
        }
        if kind not in arithmetic:
            raise NotImplementedError(f"operator {kind}")
        return arithmetic[kind]()

    def _function(self, kind: str, params: dict[str, Any]) -> Any:  # noqa: C901 - one branch per function
        if kind == "empty":
            return not self.ev(params["item_to_test"])
        if kind == "max":
            return max(self.ev(value) for value in params.values())
        if kind == "min":
            return min(self.ev(value) for value in params.values())
        if kind == "resource_group":
            assert params.get("resource_group_name") is None, "only the deployment's own resourceGroup()"
            rg = self.scope["resourceGroup"]
            return {"name": rg, "location": self.scope["location"], "id": f"<resourceGroup.id:{rg}>"}
        if kind == "subscription":
            return {"subscriptionId": self.scope["subscriptionId"]}
        if kind == "starts_with":
            return str(self.ev(params["string_to_search"])).startswith(str(self.ev(params["string_to_find"])))
        if kind == "contains":
            return self.ev(params["item_to_find"]) in self.ev(params["container"])
        if kind == "length":
            return len(self.ev(params["arg_1"]))
        if kind == "index_of":  # ARM: case-insensitive, -1 when absent
            text, part = str(self.ev(params["string_to_search"])), str(self.ev(params["string_to_find"]))
            return text.lower().find(part.lower())
        if kind == "substring":
            text, start = str(self.ev(params["string_to_parse"])), self.ev(params["start_index"])
            if start > len(text):
                raise ValueError("substring: startIndex beyond the string (ARM fails the deployment)")
            length = self.ev(params["length"]) if params.get("length") is not None else None
            return text[start:] if length is None else text[start : start + length]
        if kind == "to_lower":
            return str(self.ev(params["string_to_change"])).lower()
        if kind == "string":
            value = self.ev(params["value_to_convert"])
            return value if isinstance(value, str) else str(value)
        if kind == "resource_id":
            return "<resourceId>"
        if kind == "subscription_resource_id":
            return "<subscriptionResourceId>"
        if kind == "guid":
            return "<guid>"
        raise NotImplementedError(f"function {kind}")

    def resource(self, symbol: str) -> dict[str, Any]:
        """Evaluated config of a resource (unwrapping an ``if (...)`` condition); ``None`` when it is off."""
        config = self.doc["resources"][symbol]["config"]
        if "condition" in config:
            if not self.ev(config["condition"]):
                return {}
            config = config["config"]
        return dict(self.ev({k: v for k, v in config.items() if k != "dependsOn"}))
