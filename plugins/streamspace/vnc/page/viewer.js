// The StreamSpace viewer page (served by the API with a strict CSP: no inline code, own origin only).
// It reads the token from the URL fragment, which browsers never send, and opens noVNC on the
// WebSocket of this same path. For tests: <body data-state="connecting|connected|reconnecting|disconnected|no-token">,
// data-close-code and data-close-reason after a disconnect, data-socket="connecting|open|closed",
// data-reconnect-code: the close code that last made the page reconnect by itself.
import RFB from './novnc/core/rfb.js';

const body = document.body;
const statusLine = document.getElementById('status');
const reconnectButton = document.getElementById('reconnect');
const screen = document.getElementById('screen');
const help = document.getElementById('help');

/** `/vnc-viewer/{session_id}`: the socket has the same path (`?token=`), the API is two levels up. */
const pagePath = location.pathname.replace(/\/+$/, '');
const sessionId = decodeURIComponent(pagePath.split('/').pop() ?? '');

/** What the viewer socket's close codes mean (docs/streamspace.md, "VNC"). */
const closeReasons = {
  1000: 'The stream ended: the session left running (hibernated or stopped), or the agent closed it.',
  1001: 'The server is restarting; reconnect in a moment.',
  1012: "The replica holding this session's agent went away; reconnect in a moment.",
  1013: "The replica holding this session's agent could not be reached; reconnect in a moment.",
  1009: 'A message was too large for the relay.',
  1011: "The session's agent failed, disconnected, or did not open the VNC stream in time.",
  4403: 'Your login ended (logged out, password changed, account disabled), or you may no longer view this session. Log in again and get a new token.',
};

let token = null;
let current = null;

/**
 * Close codes after which the page reconnects by itself (with a login token: a single-use
 * token was spent by the first connect): a replica restarting or going away (and 1006 on a
 * connection that was open). The agent may
 * need a few seconds to register with another replica, so refused attempts are retried too,
 * for up to `reconnectForMs`.
 */
const reconnectCodes = new Set([1001, 1012, 1013]);
const reconnectForMs = 60_000;
/** Set while reconnecting on our own: when it started and how many attempts so far. */
let reconnecting = null;

function tokenFromFragment() {
  const value = new URLSearchParams(location.hash.slice(1)).get('token');
  return value === null || value === '' ? null : value;
}

function setStatus(state, text) {
  body.dataset.state = state;
  statusLine.textContent = text;
  reconnectButton.hidden = state !== 'disconnected';
}

function socketUrl() {
  const url = new URL(location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  url.pathname = pagePath;
  url.hash = '';
  url.search = `?token=${encodeURIComponent(token)}`;
  return url.href;
}

const isLoginToken = (value) => value.split('.').length === 3;

/**
 * A refused upgrade (401, 403, 404, 409, 429, 503) reaches a browser only as a failed connect
 * (1006). With a login token the session itself can be asked what is wrong.
 */
async function explainRefusal() {
  const generic = "The server refused the connection: the session is not running, its agent is offline, it has too many viewers, or this page is not open at the panel's address.";
  if (!isLoginToken(token)) {
    return `Could not connect. A single-use token opens one viewer, within 60 seconds: get a new one (GET /api/v1/sessions/${sessionId}/vnc-token) and open its viewer_url. Otherwise: ${generic}`;
  }
  try {
    const res = await fetch(new URL(`../api/v1/sessions/${encodeURIComponent(sessionId)}`, location.origin + pagePath), { headers: { Authorization: `Bearer ${token}` }, cache: 'no-store' });
    if (res.status === 401) return 'Your login token is invalid, expired or revoked; log in again.';
    if (res.status === 404) return 'There is no such session, or it is not yours.';
    if (res.status === 429) return 'Too many requests; wait a minute and reconnect.';
    if (!res.ok) return `Could not connect (the session answered HTTP ${res.status}).`;
    const session = await res.json();
    if (session.state !== 'running') return `The session is ${session.state}, not running; wake it (PATCH its state to running) and reconnect.`;
    if (session.status?.phase === 'Unknown') return "The session's agent is offline; reconnect once it is back.";
    return "The server refused the connection: the session has too many viewers, or this page is not open at the panel's address (its origin is not allowed).";
  } catch {
    return `Could not connect. ${generic}`;
  }
}

async function reasonFor(attempt) {
  const { closed } = attempt;
  if (attempt.credentials) return 'The VNC server asks for a password, which this viewer does not support.';
  if (attempt.securityFailure) return `The VNC server refused the viewer: ${attempt.securityFailure}.`;
  if (!closed) return 'Disconnected.';
  if (!attempt.opened) return explainRefusal();
  // noVNC gave up while the socket was still open: the VNC server's answers made no sense to it.
  if (attempt.failedWhileOpen) return "The VNC handshake with the session's server failed (its answers were not RFB that noVNC understands).";
  const known = closeReasons[closed.code];
  const said = closed.reason ? ` (${closed.reason})` : '';
  if (known) return `${known}${said}`;
  if (closed.code === 1006) return 'The connection dropped (network or server).';
  return `Disconnected (code ${closed.code})${said}.`;
}

function shouldReconnect(attempt) {
  if (!isLoginToken(token) || attempt.credentials || attempt.securityFailure) return false;
  if (reconnecting && Date.now() - reconnecting.since > reconnectForMs) return false;
  // A replica going away, or (while reconnecting) a refusal as the agent moves.
  if (attempt.closed && reconnectCodes.has(attempt.closed.code)) return true;
  // An open connection that dropped without a close frame (the replica it reached was killed,
  // or the network broke), unless noVNC itself gave up on what the server said.
  if (attempt.closed?.code === 1006 && attempt.opened && !attempt.failedWhileOpen) return true;
  return reconnecting !== null && !attempt.opened;
}

/** Once both noVNC has said it is disconnected and the socket has closed, says why (or reconnects). */
async function settle(attempt) {
  if (attempt !== current || attempt.settled || !attempt.ended) return;
  if (!attempt.closed && attempt.socket.readyState !== WebSocket.CLOSED) {
    // noVNC closes the socket itself after a protocol failure; its close event will come.
    attempt.waiting ??= setTimeout(() => {
      attempt.closed ??= { code: 1006, reason: '' };
      settle(attempt);
    }, 3000);
    return;
  }
  attempt.settled = true;
  clearTimeout(attempt.waiting);
  if (shouldReconnect(attempt)) {
    // The code that started this round of reconnecting (later refusals are 1006).
    if (reconnecting === null) body.dataset.reconnectCode = String(attempt.closed?.code ?? '');
    reconnecting ??= { since: Date.now(), tries: 0 };
    reconnecting.tries += 1;
    const delay = Math.min(500 * 2 ** (reconnecting.tries - 1), 5000);
    setStatus('reconnecting', `Reconnecting (attempt ${reconnecting.tries})…`);
    setTimeout(() => {
      if (attempt === current) connect();
    }, delay);
    return;
  }
  reconnecting = null;
  const reason = await reasonFor(attempt);
  if (attempt !== current) return;
  body.dataset.closeCode = String(attempt.closed?.code ?? '');
  body.dataset.closeReason = reason;
  setStatus('disconnected', `Disconnected: ${reason}`);
}

function connect() {
  delete body.dataset.closeCode;
  delete body.dataset.closeReason;
  setStatus('connecting', 'Connecting…');
  body.dataset.socket = 'connecting';
  // Our own socket, handed to noVNC: its close code and reason are what explain a disconnect.
  const socket = new WebSocket(socketUrl());
  const attempt = { socket, rfb: null, desktop: null, opened: false, closed: null, ended: false, failedWhileOpen: false, settled: false, securityFailure: null, credentials: false };
  current = attempt;
  socket.addEventListener('open', () => {
    attempt.opened = true;
    if (attempt === current) body.dataset.socket = 'open';
  });
  socket.addEventListener('close', (event) => {
    attempt.closed = { code: event.code, reason: event.reason };
    if (attempt === current) body.dataset.socket = 'closed';
    settle(attempt);
  });
  let rfb;
  try {
    rfb = new RFB(screen, socket);
  } catch (err) {
    socket.close();
    attempt.settled = true;
    body.dataset.closeReason = `This browser cannot run the viewer: ${err.message}`;
    setStatus('disconnected', `Disconnected: ${body.dataset.closeReason}`);
    return;
  }
  attempt.rfb = rfb;
  rfb.scaleViewport = true;
  rfb.resizeSession = false;
  rfb.addEventListener('connect', () => {
    if (attempt === current) reconnecting = null;
    if (attempt === current) setStatus('connected', attempt.desktop ? `Connected to ${attempt.desktop}` : 'Connected');
    rfb.focus();
  });
  // Sent during the handshake, before 'connect' (and again if the desktop is renamed).
  rfb.addEventListener('desktopname', (event) => {
    attempt.desktop = event.detail.name;
    document.title = `${event.detail.name} – StreamSpace viewer`;
    if (attempt === current && body.dataset.state === 'connected') statusLine.textContent = `Connected to ${event.detail.name}`;
  });
  rfb.addEventListener('securityfailure', (event) => {
    attempt.securityFailure = event.detail.reason || `security negotiation failed (status ${event.detail.status})`;
  });
  rfb.addEventListener('credentialsrequired', () => {
    attempt.credentials = true;
    rfb.disconnect();
  });
  rfb.addEventListener('disconnect', (event) => {
    attempt.failedWhileOpen = !event.detail.clean && socket.readyState === WebSocket.OPEN;
    attempt.ended = true;
    settle(attempt);
  });
}

function start() {
  for (const el of document.querySelectorAll('.session-id')) el.textContent = sessionId;
  token = tokenFromFragment();
  if (token === null) {
    help.hidden = false;
    screen.hidden = true;
    setStatus('no-token', 'No token: see below how to get one.');
    return;
  }
  // Out of the address bar (and history) once read; kept in memory for Reconnect.
  history.replaceState(null, '', location.pathname + location.search);
  help.hidden = true;
  screen.hidden = false;
  connect();
}

reconnectButton.addEventListener('click', () => {
  if (current && !current.settled) return;
  connect();
});

// A new #token=... pasted into this page starts over with it.
window.addEventListener('hashchange', () => {
  if (tokenFromFragment() === null) return;
  const previous = current;
  current = null;
  if (previous && !previous.settled) previous.rfb?.disconnect();
  start();
});

start();
