import json

def test_repro(workspace, kit):
    ws = workspace()
    for i in range(6):
        ws.add_member(f"e{i}@example.com", kit.member(f"E{i}", "Err", "Co"))
    ws.emu.inject_fault("salesforce", method="POST", path_regex="composite/sobjects$", status=500)
    proc = ws.run("sync", "--json")
    print("EXIT", proc.returncode)
    print(proc.stdout)
    print(proc.stderr)
    print(ws.run("records", "--state", "pending").stdout)
    print(ws.emu.requests_log("salesforce")["counts"])
