// Reference relay: the smallest server that speaks enough of the Switchboard
// protocol (protocol/PROTOCOL.md) for the load harness's idle, conversations,
// churn and fanout scenarios, on Node's `ws`. It is a yardstick, not a
// product: messages live in memory only (no persistence, no durability), one
// agent account, no rate limits, no routing beyond "take the oldest".
//
//   node relay.js [--port 8090] [--email demo@switchboard.local] [--password switchboard-demo]
//
// Prints "relay listening on http://127.0.0.1:PORT" once it listens.
'use strict';

const http = require('http');
const crypto = require('crypto');
const { WebSocketServer } = require('ws');

const args = process.argv.slice(2);
function arg(name, dflt) {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
}
const PORT = Number(arg('--port', '8090'));
const EMAIL = arg('--email', 'demo@switchboard.local');
const PASSWORD = arg('--password', 'switchboard-demo');
const AGENT = { id: 'demo', name: 'Demo Agent' };
const TOKEN = 'ref-' + crypto.randomBytes(16).toString('hex');

let nextId = 1;
const id = (p) => p + (nextId++).toString(36);
const now = () => Date.now();

const conversations = new Map(); // conv -> {conv, state, visitorId, visitorName, agentId, agentName, since, log[], byClient Map, followers Set}
const waiting = []; // conv ids, oldest first
const visitorSockets = new Map(); // visitor id -> Set<ws>
const agentSockets = new Set(); // every helloed agent socket
const openOfVisitor = new Map(); // visitor id -> conv

function send(ws, obj) {
  if (ws.readyState === 1) ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj));
}

function summary(c) {
  return { conv: c.conv, state: c.state, last_seq: c.log.length, agent_name: c.agentName,
           visitor_name: c.visitorName };
}

// A state change goes to the visitor's sessions and the agent's sessions.
function publishState(c, extra) {
  const frame = JSON.stringify(Object.assign({ type: 'conversation' }, summary(c), extra || {}));
  for (const ws of visitorSockets.get(c.visitorId) || []) send(ws, frame);
  if (c.agentId) for (const ws of agentSockets) send(ws, frame);
}

let queueDirty = false;
function queueChanged() {
  if (queueDirty) return;
  queueDirty = true;
  // Coalesce the changes of one loop turn into one queue view, like the server.
  setImmediate(() => {
    queueDirty = false;
    const frame = queueFrame();
    for (const ws of agentSockets) send(ws, frame);
  });
}
function queueFrame() {
  return JSON.stringify({
    type: 'queue',
    waiting: waiting.map((conv) => {
      const c = conversations.get(conv);
      return { conv, visitor_name: c.visitorName, since: c.since };
    }),
  });
}

function error(ws, code, message, conv, clientId) {
  const e = { type: 'error', code, message };
  if (conv) e.conv = conv;
  if (clientId) e.client_id = clientId;
  send(ws, e);
}

function participant(ws, c) {
  return ws.role === 'visitor' ? c.visitorId === ws.principal : c.agentId === ws.principal;
}

function onFrame(ws, text) {
  let m;
  try {
    m = JSON.parse(text);
  } catch (e) {
    return error(ws, 'bad_json', 'not JSON');
  }
  if (!m || typeof m !== 'object' || typeof m.type !== 'string') return error(ws, 'bad_json', 'not an object');
  if (!ws.role && m.type !== 'hello') return error(ws, 'hello_required', 'send hello first');
  switch (m.type) {
    case 'hello': {
      if (ws.role) return error(ws, 'already_hello', 'hello was already sent');
      if (m.role === 'agent') {
        if (m.token !== TOKEN) {
          error(ws, 'bad_token', 'sign-in token is invalid');
          return ws.close(4001);
        }
        ws.role = 'agent';
        ws.principal = AGENT.id;
        ws.name = AGENT.name;
        agentSockets.add(ws);
        const mine = [...conversations.values()].filter((c) => c.agentId === AGENT.id && c.state !== 'closed');
        send(ws, { type: 'welcome', version: 1, role: 'agent', id: AGENT.id, name: AGENT.name, token: '',
                   conversations: mine.map(summary) });
        send(ws, queueFrame()); // the new session only
      } else {
        ws.role = 'visitor';
        ws.principal = id('v_');
        ws.name = typeof m.name === 'string' ? m.name : '';
        if (!visitorSockets.has(ws.principal)) visitorSockets.set(ws.principal, new Set());
        visitorSockets.get(ws.principal).add(ws);
        send(ws, { type: 'welcome', version: 1, role: 'visitor', id: ws.principal, name: ws.name,
                   token: 'rt_' + crypto.randomBytes(12).toString('hex'), conversations: [] });
      }
      return;
    }
    case 'start': {
      if (ws.role !== 'visitor') return error(ws, 'forbidden', 'only visitors start conversations');
      let c = conversations.get(openOfVisitor.get(ws.principal));
      if (!c) {
        c = { conv: id('c_'), state: 'waiting', visitorId: ws.principal, visitorName: ws.name, agentId: '',
              agentName: '', since: now(), log: [], byClient: new Map(), followers: new Set() };
        conversations.set(c.conv, c);
        openOfVisitor.set(ws.principal, c.conv);
        waiting.push(c.conv);
        c.followers.add(ws);
        ws.following.add(c.conv);
        queueChanged();
      }
      const ev = Object.assign({ type: 'conversation' }, summary(c));
      if (m.client_id) ev.client_id = m.client_id;
      for (const s of visitorSockets.get(c.visitorId) || []) send(s, ev);
      return;
    }
    case 'take': {
      if (ws.role !== 'agent') return error(ws, 'forbidden', 'only agents take conversations');
      const conv = waiting.shift();
      if (!conv) return error(ws, 'nothing_waiting', 'no conversation is waiting');
      const c = conversations.get(conv);
      c.state = 'active';
      c.agentId = ws.principal;
      c.agentName = ws.name;
      queueChanged();
      return publishState(c, { reason: 'assigned' });
    }
    case 'resume': {
      const c = conversations.get(m.conv);
      if (!c) return error(ws, 'not_found', 'no such conversation', m.conv);
      if (!participant(ws, c)) return error(ws, 'forbidden', 'not a participant', m.conv);
      const after = Number.isInteger(m.after) ? m.after : 0;
      for (let i = after; i < c.log.length; i++) send(ws, c.log[i]);
      send(ws, { type: 'replayed', conv: c.conv, last_seq: Math.max(after, c.log.length) });
      if (c.state !== 'closed') {
        c.followers.add(ws);
        ws.following.add(c.conv);
      }
      return;
    }
    case 'message': {
      const c = conversations.get(m.conv);
      if (!c) return error(ws, 'not_found', 'no such conversation', m.conv, m.client_id);
      if (!participant(ws, c)) return error(ws, 'forbidden', 'not a participant', m.conv, m.client_id);
      if (c.state === 'closed') return error(ws, 'conv_closed', 'the conversation is closed', m.conv, m.client_id);
      if (typeof m.text !== 'string' || !m.text || typeof m.client_id !== 'string' || !m.client_id) {
        return error(ws, 'bad_field', 'text and client_id are required', m.conv, m.client_id);
      }
      const key = ws.principal + '\u0000' + m.client_id;
      const had = c.byClient.get(key);
      if (had) {
        return send(ws, { type: 'ack', conv: c.conv, client_id: m.client_id, seq: had.seq, ts: had.ts, duplicate: true });
      }
      const seq = c.log.length + 1;
      const ts = now();
      const frame = JSON.stringify({ type: 'message', conv: c.conv, seq, from: ws.role, author: ws.name,
                                     client_id: m.client_id, text: m.text, ts });
      c.log.push(frame);
      c.byClient.set(key, { seq, ts });
      send(ws, { type: 'ack', conv: c.conv, client_id: m.client_id, seq, ts, duplicate: false });
      for (const f of c.followers) send(f, frame);
      return;
    }
    case 'close': {
      const c = conversations.get(m.conv);
      if (!c) return error(ws, 'not_found', 'no such conversation', m.conv);
      if (!participant(ws, c)) return error(ws, 'forbidden', 'not a participant', m.conv);
      if (c.state === 'closed') return error(ws, 'conv_closed', 'already closed', m.conv);
      const wasWaiting = c.state === 'waiting';
      c.state = 'closed';
      openOfVisitor.delete(c.visitorId);
      if (wasWaiting) {
        waiting.splice(waiting.indexOf(c.conv), 1);
        queueChanged();
      }
      const reason = ws.role === 'agent' ? 'closed_by_agent' : 'closed_by_visitor';
      const frame = JSON.stringify(Object.assign({ type: 'conversation' }, summary(c), { reason }));
      const told = new Set([...(visitorSockets.get(c.visitorId) || []), ...(c.agentId ? agentSockets : []), ...c.followers]);
      for (const s of told) send(s, frame);
      for (const s of c.followers) s.following.delete(c.conv);
      c.followers.clear();
      // Memory only, and bounded: a closed conversation is forgotten.
      conversations.delete(c.conv);
      return;
    }
    case 'typing':
    case 'receipt':
      return;
    default:
      return error(ws, 'unknown_type', 'unknown type ' + m.type);
  }
}

const server = http.createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/api/login') {
    let body = '';
    req.on('data', (d) => { body += d; if (body.length > 65536) req.destroy(); });
    req.on('end', () => {
      let j = null;
      try { j = JSON.parse(body); } catch (e) { /* answered below */ }
      if (!j || typeof j.email !== 'string' || typeof j.password !== 'string') {
        res.writeHead(400, { 'Content-Type': 'application/json' });
        return res.end('{"error":"bad_request"}');
      }
      if (j.email !== EMAIL || j.password !== PASSWORD) {
        res.writeHead(401, { 'Content-Type': 'application/json' });
        return res.end('{"error":"bad_credentials"}');
      }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify({ token: TOKEN, expires_at: now() + 43200e3,
                                      agent: { id: AGENT.id, name: AGENT.name, role: 'agent' } }));
    });
    return;
  }
  if (req.url === '/healthz') {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    return res.end(JSON.stringify({ status: 'ok', connections: wss.clients.size }));
  }
  res.writeHead(404);
  res.end();
});

const wss = new WebSocketServer({ server, path: '/ws', perMessageDeflate: false, maxPayload: 65536 });
wss.on('connection', (ws, req) => {
  req.socket.setNoDelay(true);
  ws.following = new Set();
  ws.on('message', (data, isBinary) => {
    if (isBinary) return ws.close(1003);
    onFrame(ws, data.toString());
  });
  ws.on('close', () => {
    if (ws.role === 'agent') agentSockets.delete(ws);
    if (ws.role === 'visitor') {
      const set = visitorSockets.get(ws.principal);
      if (set) {
        set.delete(ws);
        if (!set.size) visitorSockets.delete(ws.principal);
      }
    }
    for (const conv of ws.following) {
      const c = conversations.get(conv);
      if (c) c.followers.delete(ws);
    }
  });
  ws.on('error', () => {});
});

process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
server.listen(PORT, '127.0.0.1', () => {
  console.log('relay listening on http://127.0.0.1:' + server.address().port);
});
