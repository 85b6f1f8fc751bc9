// SPDX-License-Identifier: Apache-2.0
// aigw-cli serve driven by the official `openai` npm client: chat, streaming,
// embeddings, models, and an error. Run by ctest (tests/CMakeLists.txt) with
// AIGW_CLI_PATH and AIGW_SIM_PATH set; `node --test openai_client.test.mjs`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';

const CLI = process.env.AIGW_CLI_PATH;
const SIM = process.env.AIGW_SIM_PATH;
const GW_KEY = 'sk-gw-node-test';
const UP_KEY = 'sk-upstream-node';

let sim, serve, dir, client;

// Starts a process and resolves with the first stdout line matching re.
function startAndWait(cmd, args, re) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${cmd}: no '${re}' in ${out}`)), 10000);
    p.stdout.on('data', (d) => {
      out += d;
      const m = out.match(re);
      if (m) {
        clearTimeout(timer);
        resolve({ proc: p, port: Number(m[1]) });
      }
    });
    p.on('exit', (code) => reject(new Error(`${cmd} exited ${code}: ${out}`)));
  });
}

before(async () => {
  assert.ok(CLI && SIM, 'AIGW_CLI_PATH and AIGW_SIM_PATH must be set');
  sim = await startAndWait(SIM, ['--port', '0', '--api-key', UP_KEY, '--max-seconds', '120'],
    /listening on [^:]+:(\d+)/);
  dir = mkdtempSync(join(tmpdir(), 'aigw-node-'));
  const cfg = join(dir, 'config.json');
  writeFileSync(cfg, JSON.stringify({
    backends: { sim: { schema: 'openai', base_url: `http://127.0.0.1:${sim.port}/v1`, api_key: UP_KEY } },
    default_backend: 'sim',
    gateway: { keys: [{ sha256: createHash('sha256').update(GW_KEY).digest('hex'), name: 'node', team: 'qa' }] },
  }));
  serve = await startAndWait(CLI, ['serve', '--config', cfg, '--listen', '127.0.0.1:0', '--workers', '2'],
    /listening on port (\d+)/);
  client = new OpenAI({ apiKey: GW_KEY, baseURL: `http://127.0.0.1:${serve.port}/v1`, maxRetries: 0 });
});

after(async () => {
  if (serve) {
    const exited = new Promise((r) => serve.proc.on('exit', (code) => r(code)));
    serve.proc.kill('SIGTERM');
    assert.equal(await exited, 0);
  }
  if (sim) sim.proc.kill('SIGTERM');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('chat', async () => {
  const r = await client.chat.completions.create({
    model: 'sim/gpt-4o-mini',
    messages: [{ role: 'user', content: 'hello from node' }],
  });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices[0].message.content, 'echo: hello from node');
  assert.ok(r.usage.total_tokens > 0);
});

test('streaming', async () => {
  const stream = await client.chat.completions.create({
    model: 'sim/gpt-4o-mini',
    stream: true,
    messages: [{ role: 'user', content: 'one two three' }],
  });
  let text = '';
  let chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    text += chunk.choices[0]?.delta?.content ?? '';
  }
  assert.ok(chunks >= 3);
  assert.equal(text, 'echo: one two three');
});

test('streaming through the mock backend', async () => {
  const stream = await client.chat.completions.create({
    model: 'mock/echo', stream: true, messages: [{ role: 'user', content: 'mock words here' }],
  });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
  assert.equal(text, 'mock words here');
});

test('embeddings', async () => {
  const r = await client.embeddings.create({ model: 'sim/text-embedding-3-small', input: ['a', 'b'] });
  assert.equal(r.data.length, 2);
  assert.equal(r.data[1].index, 1);
  assert.ok(r.data[0].embedding.length > 0);
});

test('models', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.ok(ids.includes('sim/gpt-4o-mini'), ids.join(','));
});

test('errors: upstream 429, wrong key, unknown model', async () => {
  await assert.rejects(
    client.chat.completions.create({
      model: 'sim/gpt-4o-mini', sim_fault: 'status=429', messages: [{ role: 'user', content: 'x' }],
    }),
    (e) => e instanceof OpenAI.APIError && e.status === 429 && e.code === 'rate_limit_exceeded',
  );
  const bad = new OpenAI({ apiKey: 'sk-wrong', baseURL: client.baseURL, maxRetries: 0 });
  await assert.rejects(
    bad.models.list(),
    (e) => e instanceof OpenAI.AuthenticationError && e.status === 401 && e.code === 'invalid_api_key',
  );
  await assert.rejects(
    client.chat.completions.create({ model: 'nowhere/x', messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof OpenAI.APIError && e.status === 404,
  );
});
