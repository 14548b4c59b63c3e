import json, os, subprocess
from test_agents import *
from test_agents import NODE_BIN, CODEX
from fake_upstream import FakeUpstream

def sse(events):
    return Reply.sse([f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events])

def test_probe(tmp_path, trap):
    fake = FakeUpstream()
    n = [0]
    def answer(req):
        if req.method != "POST":
            return Reply.json({}, 405)
        n[0] += 1
        body = req.json()
        print("REQ", n[0], req.path, [h for h in req.headers if h[0].lower().startswith("x-") or h[0].lower()=="openai-beta"])
        print("BODY", json.dumps({k: v for k, v in body.items() if k not in ("instructions", "tools")})[-2500:])
        resp = {"id": f"resp_{n[0]}", "object": "response", "status": "completed", "model": "m", "output": [],
                "usage": {"input_tokens": 90000, "output_tokens": 10, "total_tokens": 90010}}
        if n[0] == 1:
            item = {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "exec_command", "arguments": json.dumps({"cmd": "printf x > f.txt"}), "status": "completed"}
        else:
            item = {"type": "message", "id": f"m{n[0]}", "role": "assistant", "status": "completed", "content": [{"type": "output_text", "text": "done", "annotations": []}]}
        resp["output"] = [item]
        return sse([{"type": "response.created", "response": {**resp, "status": "in_progress", "output": []}},
                    {"type": "response.output_item.done", "output_index": 0, "item": item},
                    {"type": "response.completed", "response": resp}])
    fake.default = answer
    home = tmp_path / "codex-home"; home.mkdir()
    (home / "config.toml").write_text(f'''model = "deepseek-v4-pro#deepseek"
openai_base_url = "{fake.url}/v1"
model_auto_compact_token_limit = 50000
check_for_update_on_startup = false
[analytics]
enabled = false
[features]
plugins = false
''')
    env = {"PATH": f"{NODE_BIN}:{os.environ['PATH']}", "HOME": str(home), "CODEX_HOME": str(home),
           "OPENAI_API_KEY": "k", "CODEX_API_KEY": "k", **trap.env()}
    work = tmp_path / "work"; work.mkdir()
    proc = subprocess.run([str(CODEX), "exec", "--skip-git-repo-check", "-s", "workspace-write", "--json", "go"],
                          cwd=work, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    print("RC", proc.returncode, proc.stdout[-1500:])
