"""Print the template variants CI builds, one per line: LABEL [-d key=value …].

Derived from cargo-generate.toml so a new toggle is covered without editing CI:
the defaults, every boolean toggle off, every toggle on. Identical answer sets
are built once (today the defaults are "every toggle on").
"""
import sys
import tomllib

with open(sys.argv[1], "rb") as f:
    config = tomllib.load(f)

toggles = {
    name: spec.get("default", False)
    for name, spec in config.get("placeholders", {}).items()
    if spec.get("type") == "bool"
}
variants = [
    ("defaults", dict(toggles)),
    ("all-off", {name: False for name in toggles}),
    ("all-on", {name: True for name in toggles}),
]
seen = []
for label, answers in variants:
    if answers in seen:
        continue
    seen.append(answers)
    defines = " ".join(f"-d {k}={'true' if v else 'false'}" for k, v in answers.items())
    print(f"{label} {defines}".strip())
