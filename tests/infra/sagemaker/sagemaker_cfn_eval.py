"""A small evaluator of the SageMaker template for given parameters: conditions, ``Fn::If``, ``Ref`` to parameters,
``AWS::NoValue`` and the ``Rules`` section, as CloudFormation applies them. Other intrinsics (``Fn::GetAtt``,
``Fn::Sub``, ``Ref`` to resources) are left as they are. moto checks none of this (it ignores ``Rules``), so the
tests read what a stack with these parameters would really send.
"""

from __future__ import annotations

from typing import Any

NO_VALUE = object()


class Template:
    def __init__(self, template: dict[str, Any], parameters: dict[str, Any]) -> None:
        self.template = template
        self.values: dict[str, str] = {
            name: str(parameters.get(name, spec.get("Default", ""))) for name, spec in template["Parameters"].items()
        }
        missing = [name for name, value in self.values.items() if name not in parameters and "Default" not in
                   template["Parameters"][name]]  # fmt: skip
        if missing:
            raise KeyError(f"parameters without a default: {missing}")
        unknown = set(parameters) - set(self.values)
        if unknown:
            raise KeyError(f"unknown parameters: {sorted(unknown)}")
        self._conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = self._truth(self.template["Conditions"][name])
        return self._conditions[name]

    def _truth(self, node: Any) -> bool:
        if isinstance(node, dict) and len(node) == 1:
            (key, args), = node.items()
            if key == "Condition":
                return self.condition(args)
            if key == "Fn::Equals":
                left, right = (self.value(arg) for arg in args)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self._truth(args[0])
            if key == "Fn::And":
                return all(self._truth(arg) for arg in args)
            if key == "Fn::Or":
                return any(self._truth(arg) for arg in args)
            if key == "Fn::Contains":
                options, item = args
                return str(self.value(item)) in [str(self.value(option)) for option in options]
        raise ValueError(f"not a condition: {node!r}")

    def value(self, node: Any) -> Any:
        """``node`` with Ref-to-parameter, Fn::If and AWS::NoValue resolved (NoValue entries dropped)."""
        if isinstance(node, dict):
            if len(node) == 1:
                (key, args), = node.items()
                if key == "Ref" and args in self.values:
                    return self.values[args]
                if key == "Ref" and args == "AWS::NoValue":
                    return NO_VALUE
                if key == "Fn::If":
                    name, then, otherwise = args
                    return self.value(then if self.condition(name) else otherwise)
            out = {key: self.value(item) for key, item in node.items()}
            return {key: item for key, item in out.items() if item is not NO_VALUE}
        if isinstance(node, list):
            return [item for item in (self.value(item) for item in node) if item is not NO_VALUE]
        return node

    def resources(self) -> dict[str, dict[str, Any]]:
        """The resources a stack with these parameters creates, their properties resolved."""
        return {
            name: self.value(resource.get("Properties", {}))
            for name, resource in self.template["Resources"].items()
            if "Condition" not in resource or self.condition(resource["Condition"])
        }

    def broken_rules(self) -> list[str]:
        """The ``AssertDescription`` of every rule assertion these parameters fail (CloudFormation refuses them)."""
        broken = []
        for rule in self.template.get("Rules", {}).values():
            if "RuleCondition" in rule and not self._truth(rule["RuleCondition"]):
                continue
            broken += [a["AssertDescription"] for a in rule["Assertions"] if not self._truth(a["Assert"])]
        return broken
