"""Deploy a tool whose config gates its one-off behind a question, answer
the question, and wait for the deployment to finish: the Slipway client for
Python against a live server.

    SLIPWAY_URL=http://127.0.0.1:8080 SLIPWAY_TOKEN=… SLIPWAY_TOOL=mytool \\
    SLIPWAY_REPO=https://example.org/mytool.git \\
    PYTHONPATH=clients/python python3 clients/python/examples/deploy.py

It prints one line per step and exits 0 when the deployment succeeded.
"""

import os
import sys
import time

from slipway_client import Client, SlipwayError
from slipway_client.models import ToolConfig

FINAL = ("successful", "failed", "timed_out", "cancelled")

api = Client.from_env()  # $SLIPWAY_URL, $SLIPWAY_TOKEN, as the CLI
tool = os.environ["SLIPWAY_TOOL"]

# A config the server refuses: its message comes back as a SlipwayError.
try:
    api.create_tool_config(tool, {"components": {}})
    sys.exit("an empty config was accepted")
except SlipwayError as e:
    print("refused: %d: %s" % (e.status, "; ".join(e.errors)))

# A one-off that runs after a gate's question is answered (the body may be
# YAML text too).
config: ToolConfig = {
    "components": {
        "migrate": {
            "component_type": "one-off",
            "build": {"repository": os.environ["SLIPWAY_REPO"], "ref": "main"},
            "run": {"command": "echo migrated"},
            "gate": {
                "question": "Run the migration?",
                "options": [
                    {"label": "Go", "value": "go"},
                    {"label": "Stop", "value": "stop", "stop": True},
                ],
            },
        }
    }
}
stored = api.create_tool_config(tool, config)
print("config:", " ".join(stored["messages"]["info"]))

created = api.create_deployment(tool, body={"description": "from the Python client"})
deploy_id = created["data"]["deploy_id"]
print("deployment:", deploy_id)

# Poll until the gate's question is open, answer it, then poll the
# deployment until it is final.
deadline = time.monotonic() + 60
while True:
    questions = api.list_questions(tool, state="open", deployment=deploy_id)["data"]
    if questions:
        question = questions[0]
        break
    if time.monotonic() > deadline:
        sys.exit("no question after 60 s")
    time.sleep(0.2)
print("question: %s: %s" % (question["id"], question["question"].strip()))
answered = api.answer_question(tool, question["id"], {"value": "go", "comment": "from Python"})["data"]
print("answered: %s %s by %s" % (answered["state"], answered.get("value"), answered.get("answered_by")))

# A second answer is refused: the first one won.
try:
    api.answer_question(tool, question["id"], {"value": "stop"})
except SlipwayError as e:
    print("refused: %d: %s" % (e.status, "; ".join(e.errors)))

deployment = created["data"]
deadline = time.monotonic() + 120
while deployment["status"] not in FINAL:
    if time.monotonic() > deadline:
        sys.exit("deployment %s still %s after 120 s" % (deploy_id, deployment["status"]))
    time.sleep(0.2)
    deployment = api.get_deployment(tool, deploy_id)["data"]
print("final: %s: %s" % (deployment["status"], deployment["long_status"]))
sys.exit(0 if deployment["status"] == "successful" else 1)
