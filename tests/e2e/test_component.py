"""The built components match wit/world.wit: each imports only what its world
declares (all `wasi:*`) and exports the wasi:http incoming handler; only the
Spin flavour imports the Spin variables (`wasi:config/store`)."""

import re
import subprocess

from hosts import ROOT, TOOLS, component

WIT = ROOT / "wit"


def declared(text: str, kind: str) -> set[str]:
    return set(re.findall(rf"^\s*{kind}\s+([\w:/.@-]+);", text, re.M))


def world_block(text: str, name: str) -> str:
    match = re.search(rf"^world {name} \{{(.*?)^\}}", text, re.M | re.S)
    assert match, name
    return match.group(1)


def our_world() -> tuple[set[str], set[str]]:
    ours = world_block((WIT / "world.wit").read_text(), "proxy")
    proxy = world_block((WIT / "deps/http.wit").read_text(), "proxy")
    qualify = lambda names: {n if ":" in n else f"wasi:http/{n}@0.2.12" for n in names}  # noqa: E731
    imports = declared(ours, "import") | qualify(declared(proxy, "import"))
    exports = declared(ours, "export") | qualify(declared(proxy, "export"))
    assert "wasi:http/proxy@0.2.12" in declared(ours, "include")
    return imports, exports


CONFIG = "wasi:config/store@0.2.0-draft-2024-09-27"


def built(spin: bool) -> tuple[set[str], set[str]]:
    out = subprocess.run([str(TOOLS / "node/node_modules/.bin/jco"), "wit", component(spin)],
                         capture_output=True, text=True, check=True).stdout
    return declared(out, "import"), declared(out, "export")


def test_component_matches_the_world():
    imports, exports = built(spin=False)
    world_imports, world_exports = our_world()
    assert all(i.startswith("wasi:") for i in imports), imports
    assert imports <= world_imports, imports - world_imports
    assert exports == world_exports == {"wasi:http/incoming-handler@0.2.12"}
    assert CONFIG not in world_imports


def test_spin_flavour_adds_only_the_spin_variables():
    spin_world = world_block((WIT / "world.wit").read_text(), "spin-proxy")
    assert declared(spin_world, "include") == {"proxy"} and declared(spin_world, "import") == {CONFIG}
    imports, exports = built(spin=True)
    world_imports, world_exports = our_world()
    assert CONFIG in imports, imports
    assert imports <= world_imports | {CONFIG}, imports - world_imports
    assert exports == world_exports
