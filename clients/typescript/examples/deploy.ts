// Deploy a tool whose config gates its one-off behind a question, answer
// the question, and wait for the deployment to finish: the Slipway client
// for TypeScript against a live server.
//
//   SLIPWAY_URL=http://127.0.0.1:8080 SLIPWAY_TOKEN=… SLIPWAY_TOOL=mytool \
//   SLIPWAY_REPO=https://example.org/mytool.git node dist/examples/deploy.js
//
// It prints one line per step and exits 0 when the deployment succeeded.
import { Client, SlipwayError, type Deployment, type DeploymentStatus, type Question } from "../src/index.js";

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const tool = env("SLIPWAY_TOOL");
const api = new Client(env("SLIPWAY_URL"), { token: process.env.SLIPWAY_TOKEN });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const final: DeploymentStatus[] = ["successful", "failed", "timed_out", "cancelled"];

// A config the server refuses: its message comes back as a SlipwayError.
try {
  await api.createToolConfig(tool, { components: {} });
  throw new Error("an empty config was accepted");
} catch (e) {
  if (!(e instanceof SlipwayError)) throw e;
  console.log(`refused: ${e.status}: ${e.errors.join("; ")}`);
}

// The config, as the YAML a repository keeps (the body may be a ToolConfig
// object too): a one-off that runs after a gate's question is answered.
const config = `
components:
  migrate:
    component_type: one-off
    build: {repository: "${env("SLIPWAY_REPO")}", ref: main}
    run: {command: "echo migrated"}
    gate:
      question: Run the migration?
      options:
        - {label: Go, value: go}
        - {label: Stop, value: stop, stop: true}
`;
const stored = await api.createToolConfig(tool, config);
console.log(`config: ${stored.messages.info.join(" ")}`);

const created = await api.createDeployment(tool, { body: { description: "from the TypeScript client" } });
const id = created.data.deploy_id;
console.log(`deployment: ${id}`);

// Poll until the gate's question is open, answer it, then poll the
// deployment until it is final.
let question: Question | undefined;
for (let i = 0; !question; i++) {
  if (i === 300) throw new Error("no question after 60 s");
  const open = await api.listQuestions(tool, { state: "open", deployment: id });
  question = open.data[0];
  if (!question) await sleep(200);
}
console.log(`question: ${question.id}: ${question.question.trim()}`);
const answered = await api.answerQuestion(tool, question.id, { value: "go", comment: "from TypeScript" });
console.log(`answered: ${answered.data.state} ${answered.data.value} by ${answered.data.answered_by}`);

// A second answer is refused: the first one won.
try {
  await api.answerQuestion(tool, question.id, { value: "stop" });
} catch (e) {
  if (!(e instanceof SlipwayError)) throw e;
  console.log(`refused: ${e.status}: ${e.errors.join("; ")}`);
}

let d: Deployment = created.data;
for (let i = 0; !final.includes(d.status); i++) {
  if (i === 600) throw new Error(`deployment ${id} still ${d.status} after 120 s`);
  await sleep(200);
  d = (await api.getDeployment(tool, id)).data;
}
console.log(`final: ${d.status}: ${d.long_status}`);
process.exitCode = d.status === "successful" ? 0 : 1;
