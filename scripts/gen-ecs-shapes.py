#!/usr/bin/env python3
"""Write tests/fixtures/ecs-shapes/shapes.json: the member names and types of the ECS response
shapes `kubectl ecs --output json` prints (and every structure they reach), from the botocore
ECS API model 2014-11-13 (ecs-2014-11-13.api.json). The tests read only the fixture.

Usage: scripts/gen-ecs-shapes.py PATH/TO/ecs-2014-11-13.api.json

Each member's type is one of: string, integer, long, boolean, double, float, timestamp,
blob, map, a structure name (e.g. "Deployment"), or a list "[T]" of one of these.
"""
import json
import sys

ROOTS = [
    "DescribeServicesResponse", "ListServicesResponse", "UpdateServiceResponse",
    "DescribeTasksResponse", "ListTasksResponse", "RunTaskResponse", "StopTaskResponse",
    "RegisterTaskDefinitionResponse", "DescribeTaskDefinitionResponse",
    "ListTaskDefinitionsResponse", "DeregisterTaskDefinitionResponse",
    "ContinueServiceDeploymentResponse", "StopServiceDeploymentResponse",
]


def main():
    model = json.load(open(sys.argv[1]))
    shapes = model["shapes"]
    out = {}

    def type_of(name):
        s = shapes[name]
        t = s["type"]
        if t == "structure":
            visit(name)
            return name
        if t == "list":
            return "[" + type_of(s["member"]["shape"]) + "]"
        return t

    def visit(name):
        if name in out:
            return
        out[name] = {}
        members = shapes[name].get("members", {})
        out[name] = {m: type_of(v["shape"]) for m, v in members.items()}

    for r in ROOTS:
        visit(r)
    doc = {
        "_source": "botocore ECS API model %s (ecs-2014-11-13.api.json), by scripts/gen-ecs-shapes.py"
        % model["metadata"].get("apiVersion"),
        "shapes": dict(sorted(out.items())),
    }
    json.dump(doc, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
