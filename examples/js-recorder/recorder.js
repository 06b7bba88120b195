#!/usr/bin/env node
// A call recorder in JavaScript, speaking callsim's recorder wire protocol (docs/protocol.md)
// on stdin/stdout. No dependencies beyond node itself (v18 or later).
//
// Capabilities: A-law and 16-bit PCM at 8000 Hz; silence, initial silence, size, timeout,
// stop(), hangup and out-of-band barge-in. No cipher, no in-band DTMF detection, no other
// formats or rates: it declares so in its handshake, and the suite grades the cases that need
// them UNSUPPORTED.
//
// The protocol nests: while we handle a request of the harness (an API call) we make requests
// of our own (open a file, subscribe to audio, wait), and while the harness handles our `wait`
// it sends us audio and events. So this program reads stdin synchronously: `request()` sends a
// message and serves whatever the harness sends until the reply to it arrives.
'use strict';

const fs = require('fs');

const FRAME = 160;                 // 20 ms at 8 kHz
const TICKS_PER_SECOND = 8000;
const ACTIVE_ENERGY = 1318226;     // sum(x^2) of a 20 ms frame at -45 dBm0 (decision SD-SILENCE)
const RIFF_LIMIT = 2 ** 32 - 1;
const MAX_SECONDS = 7 * 24 * 3600;
const FORMATS = { alaw: { tag: 6, bytes: 1, header: 58 }, s16bit: { tag: 1, bytes: 2, header: 44 } };
const ALL_FORMATS = ['alaw', 'ulaw', 'oki', 'ima', 's16bit', 'u8bit'];
const ALL_RATES = [8000, 6000, 11000, 11025];

// -- the wire --------------------------------------------------------------------------------
let inbuf = Buffer.alloc(0);
let now = 0;
let nextId = 1;

function readLine() {
  for (;;) {
    const nl = inbuf.indexOf(10);
    if (nl >= 0) {
      const line = inbuf.subarray(0, nl).toString('utf8');
      inbuf = inbuf.subarray(nl + 1);
      return line;
    }
    const chunk = Buffer.alloc(1 << 20);
    let n;
    try {
      n = fs.readSync(0, chunk, 0, chunk.length, null);
    } catch (e) {
      if (e.code === 'EAGAIN') continue;
      if (e.code === 'EOF') n = 0; else throw e;
    }
    if (n === 0) process.exit(0);  // the harness closed the conversation
    inbuf = inbuf.length ? Buffer.concat([inbuf, chunk.subarray(0, n)]) : Buffer.from(chunk.subarray(0, n));
  }
}

function send(msg) {
  let data = Buffer.from(JSON.stringify(msg) + '\n');
  while (data.length) {
    try {
      const n = fs.writeSync(1, data);
      data = data.subarray(n);
    } catch (e) {
      if (e.code !== 'EAGAIN') throw e;
    }
  }
}

function read() {
  const msg = JSON.parse(readLine());
  if (typeof msg.now === 'number') now = msg.now;
  return msg;
}

class RemoteError extends Error {
  constructor(reply) { super(reply.message); this.kind = reply.kind; this.exception = reply.exception; }
}

// Send a request and return the harness's `value`, serving its requests meanwhile.
function request(msg) {
  const id = nextId++;
  msg.id = id;
  send(msg);
  for (;;) {
    const m = read();
    if (m.re === undefined) { dispatch(m); continue; }
    if (m.re !== id) throw new Error(`reply to ${m.re} while ${id} was pending`);
    if (m.type === 'error') throw new RemoteError(m);
    return m.value;
  }
}

// -- the exceptions the API raises ---------------------------------------------------------------
class ApiError extends Error {
  constructor(kind, message, parameter) { super(message); this.kind = kind; this.parameter = parameter; }
}
const hangup = (m) => new ApiError('Hangup', m);
const error = (m) => new ApiError('Error', m);
const argError = (param, value, reason) =>
  new ApiError('ArgumentError', `invalid ${param}=${JSON.stringify(value)}: ${reason}`, param);

// -- encoding ----------------------------------------------------------------------------------
const ALAW_SEG_END = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF];
function alaw(sample) {
  let v = sample >> 3;
  let mask = 0xD5;
  if (v < 0) { mask = 0x55; v = -v - 1; }
  let seg = 0;
  while (seg < 8 && v > ALAW_SEG_END[seg]) seg++;
  if (seg >= 8) return 0x7F ^ mask;
  const aval = (seg << 4) | ((seg < 2 ? v >> 1 : v >> seg) & 0x0F);
  return aval ^ mask;
}

function encode(fmt, samples) {  // samples: Int16Array
  if (fmt === 'alaw') {
    const out = Buffer.alloc(samples.length);
    for (let i = 0; i < samples.length; i++) out[i] = alaw(samples[i]);
    return out;
  }
  const out = Buffer.alloc(samples.length * 2);
  for (let i = 0; i < samples.length; i++) out.writeInt16LE(samples[i], 2 * i);
  return out;
}

function wavHeader(fmt, nSamples) {
  const f = FORMATS[fmt];
  const nData = nSamples * f.bytes;
  const pad = nData % 2;
  const h = Buffer.alloc(f.header);
  let p = 0;
  const str = (s) => { h.write(s, p, 'ascii'); p += 4; };
  const u32 = (v) => { h.writeUInt32LE(v, p); p += 4; };
  const u16 = (v) => { h.writeUInt16LE(v, p); p += 2; };
  str('RIFF'); u32(f.header - 8 + nData + pad); str('WAVE');
  str('fmt '); u32(fmt === 'alaw' ? 18 : 16);
  u16(f.tag); u16(1); u32(8000); u32(8000 * f.bytes); u16(f.bytes); u16(8 * f.bytes);
  if (fmt === 'alaw') { u16(0); str('fact'); u32(4); u32(nSamples); }
  str('data'); u32(nData);
  return h;
}

// -- one recorder per call ----------------------------------------------------------------------
const calls = new Map();   // call id -> Recorder
const sinks = new Map();   // sink id -> Job
const timers = new Map();  // timer id -> callback
const waits = [];          // conditions of the pending waits, innermost last

const isInt = (v) => typeof v === 'number' && Number.isInteger(v);
const isNumber = (v) => typeof v === 'number' ||
  (v !== null && typeof v === 'object' && typeof v.float === 'string');

function checkSeconds(name, v, allowZero) {
  if (!isNumber(v)) throw argError(name, v, 'must be a number of seconds');
  if (typeof v !== 'number' || !Number.isFinite(v)) throw argError(name, v, 'must be a finite number of seconds');
  if (v < 0 || (v === 0 && !allowZero)) throw argError(name, v, allowZero ? 'must be >= 0' : 'must be > 0');
  if (v > MAX_SECONDS) throw argError(name, v, `must be at most ${MAX_SECONDS} seconds`);
  return roundHalfEven(v * TICKS_PER_SECOND);
}

function roundHalfEven(x) {
  const r = Math.round(x);
  return (Math.abs(x % 1) === 0.5 && r % 2 !== 0) ? r - 1 : r;
}

function checkMs(name, v) {
  if (!isInt(v)) throw argError(name, v, 'must be an int number of milliseconds (0 = off)');
  if (v < 0) throw argError(name, v, 'must be >= 0 (0 switches the limit off)');
  if (v > MAX_SECONDS * 1000) throw argError(name, v, 'too long');
  return Math.ceil(v / 20);
}

function params(a, withTimeout) {
  const p = {
    filename: a.filename,
    fmt: 'file_format' in a ? a.file_format : 'alaw',
    rate: 'rate' in a ? a.rate : 8000,
    timeout: 'seconds_timeout' in a ? a.seconds_timeout : 120,
    maxBytes: 'max_bytes' in a ? a.max_bytes : 1920000,
    maxSil: 'milliseconds_max_silence' in a ? a.milliseconds_max_silence : 10000,
    initSil: 'milliseconds_initial_silence' in a ? a.milliseconds_initial_silence : 0,
    bargeIn: 'barge_in' in a ? a.barge_in : false,
    cipher: 'cipher' in a ? a.cipher : null,
  };
  if (!('filename' in a)) throw new ApiError('Exception', "missing a required argument: 'filename'");
  if (typeof p.filename !== 'string' || p.filename === '') throw argError('filename', p.filename, 'must be a non-empty str');
  if (!ALL_FORMATS.includes(p.fmt)) throw argError('file_format', p.fmt, `must be one of ${ALL_FORMATS.join(', ')}`);
  if (!isInt(p.rate) || !ALL_RATES.includes(p.rate)) throw argError('rate', p.rate, `must be one of ${ALL_RATES.join(', ')}`);
  p.timeoutTicks = withTimeout ? checkSeconds('seconds_timeout', p.timeout, false) : null;
  if (!isInt(p.maxBytes) || p.maxBytes < 0 || p.maxBytes > RIFF_LIMIT) {
    throw argError('max_bytes', p.maxBytes, `must be an int from 0 (no limit) to ${RIFF_LIMIT}`);
  }
  p.maxSilFrames = checkMs('milliseconds_max_silence', p.maxSil);
  p.initSilFrames = checkMs('milliseconds_initial_silence', p.initSil);
  if (typeof p.bargeIn !== 'boolean') throw argError('barge_in', p.bargeIn, 'must be True or False');
  if (p.cipher !== null && !(typeof p.cipher === 'object' && p.cipher.cipher)) {
    throw argError('cipher', p.cipher, 'must be None or a Cipher');
  }
  if (p.cipher !== null) throw error('this recorder does not support a cipher');
  if (!(p.fmt in FORMATS) || p.rate !== 8000) throw error(`this recorder writes alaw and s16bit at 8000 Hz only`);
  return p;
}

class Job {
  constructor(rec, p, firstTick) {
    this.rec = rec; this.p = p; this.firstTick = firstTick;
    this.framesDone = 0; this.silenceRun = 0; this.heard = false; this.ended = false;
    this.samplesOut = 0; this.dataBytes = 0; this.writer = null; this.sink = null; this.timer = null;
    this.lastScan = null;
    const f = FORMATS[p.fmt];
    const budget = p.maxBytes ? p.maxBytes : RIFF_LIMIT - f.header - 1;
    this.sampleLimit = Math.floor(budget / f.bytes);           // SD-SIZE: data never above max_bytes
    this.sizeFrame = Math.ceil(this.sampleLimit / FRAME);       // the frame whose samples reach it
  }

  finishAlone() { const p = this.p; return Boolean(p.maxBytes || p.maxSilFrames || p.initSilFrames); }

  // scan: say after how many frames the job would stop; change nothing
  scan(start, pcm, n) {
    const active = new Array(n);
    for (let k = 0; k < n; k++) {
      let e = 0;
      for (let i = k * FRAME; i < (k + 1) * FRAME; i++) e += pcm[i] * pcm[i];
      active[k] = e >= ACTIVE_ENERGY;
    }
    let best = null; let cause = null;
    const consider = (frame, c) => { if (best === null || frame < best) { best = frame; cause = c; } };
    const kSize = this.sizeFrame - this.framesDone - 1;
    if (kSize < n) consider(kSize, 'SIZE');
    const p = this.p;
    let sil = null;
    if (p.initSilFrames && !this.heard) {       // SD-INITIAL-SILENCE
      const k = p.initSilFrames - this.framesDone - 1;
      const firstActive = active.indexOf(true) < 0 ? n : active.indexOf(true);
      if (k >= 0 && k < n && firstActive > k) sil = k;
    }
    if (p.maxSilFrames) {                        // SD-SILENCE
      let lastActive = -1;
      for (let k = 0; k < n; k++) {
        if (active[k]) lastActive = k;
        const run = lastActive >= 0 ? k - lastActive : this.silenceRun + k + 1;
        const eligible = run >= p.maxSilFrames && !(p.initSilFrames && !this.heard && lastActive < 0);
        if (eligible) { if (sil === null || k < sil) sil = k; break; }
      }
    }
    if (sil !== null) consider(sil, 'SILENCE');
    const stop = best === null ? null : best + 1;
    this.lastScan = { start, n, active, stop, cause, pcm };
    return stop;
  }

  commit(start, n) {
    const s = this.lastScan;
    this.lastScan = null;
    if (!s || s.start !== start) throw new Error(`commit at ${start} without its scan`);
    if (n) {
      let last = -1;
      for (let k = 0; k < n; k++) if (s.active[k]) last = k;
      if (last >= 0) { this.heard = true; this.silenceRun = n - 1 - last; } else this.silenceRun += n;
    }
    this.framesDone += n;
    if (n) {
      const room = this.sampleLimit - this.samplesOut;
      const take = Math.max(0, Math.min(room, n * FRAME));
      if (take > 0) {
        const data = encode(this.p.fmt, s.pcm.subarray(0, take));
        this.samplesOut += take;
        this.dataBytes += data.length;
        try {
          request({ type: 'store_write', writer: this.writer, data: data.toString('base64') });
        } catch (e) {
          if (!(e instanceof RemoteError)) throw e;
          this.rec.failJob(this);
          return;
        }
      }
    }
    if (!this.ended && s.stop !== null && n === s.stop) this.rec.endJob(this, s.cause);
  }
}

class Recorder {
  constructor(id, callState) {
    this.id = id; this.callState = callState;
    this.state = 'IDLE'; this.cause = 'NONE'; this.audio = null; this.job = null;
  }

  checkCall() {
    if (this.callState === 'IDLE') throw hangup('the call has been hung up (call state IDLE)');
    if (this.callState !== 'ANSWERED') throw error(`the call is not answered (call state ${this.callState})`);
  }

  wait(what, cond) {
    if (cond()) return;
    waits.push(cond);
    try { request({ type: 'wait', call: this.id, what }); } finally { waits.pop(); }
  }

  schedule(at, priority, fn) {
    const tid = request({ type: 'schedule', call: this.id, at, priority });
    timers.set(tid, fn);
    return tid;
  }

  cancel(tid) {
    if (timers.delete(tid)) request({ type: 'cancel', timer: tid });
  }

  // SD-START-FALSE: false when the job ended before recording began
  startJob(p) {
    const first = now + ((FRAME - (now % FRAME)) % FRAME);  // SD-START: the next frame boundary
    const job = new Job(this, p, first);
    try {
      job.writer = request({ type: 'store_open', call: this.id, name: p.filename });
    } catch (e) {
      if (!(e instanceof RemoteError)) throw e;
      if (e.kind === 'InvalidNameError') throw argError('filename', p.filename, e.message);
      this.job = null; this.audio = false; this.cause = 'ERROR'; this.state = 'ERROR';
      return false;
    }
    try {
      request({ type: 'store_write', writer: job.writer, data: wavHeader(p.fmt, 0).toString('base64') });
    } catch (e) {
      if (!(e instanceof RemoteError)) throw e;
      try { request({ type: 'store_abort', writer: job.writer }); } catch (e2) { /* already aborted */ }
      this.job = null; this.audio = false; this.cause = 'ERROR'; this.state = 'ERROR';
      return false;
    }
    this.job = job; this.state = 'RECORDING'; this.cause = 'NONE'; this.audio = null;
    job.sink = request({ type: 'sink_add', call: this.id, first_tick: first, finish_alone: job.finishAlone() });
    sinks.set(job.sink, job);
    if (p.timeoutTicks !== null) job.timer = this.schedule(first + p.timeoutTicks, 'JOB', () => this.endJob(job, 'TIMEOUT'));
    let started = false;
    this.schedule(first, 'APP', () => { started = true; });
    this.wait('the recording to start', () => job.ended || started);
    return !(job.ended && job.framesDone === 0);
  }

  detach(job) {
    job.ended = true;
    sinks.delete(job.sink);
    request({ type: 'sink_remove', sink: job.sink });
    if (job.timer !== null) this.cancel(job.timer);
  }

  endJob(job, cause) {
    if (job.ended) return;
    this.detach(job);
    try {
      const f = FORMATS[job.p.fmt];
      if (job.dataBytes % 2) request({ type: 'store_write', writer: job.writer, data: Buffer.alloc(1).toString('base64') });
      request({ type: 'store_patch', writer: job.writer, offset: 0,
        data: wavHeader(job.p.fmt, job.samplesOut).toString('base64') });
      void f;
      request({ type: 'store_commit', writer: job.writer });
    } catch (e) {
      if (!(e instanceof RemoteError)) throw e;
      try { request({ type: 'store_abort', writer: job.writer }); } catch (e2) { /* already aborted */ }
      this.finish(job, 'ERROR', 'ERROR');
      return;
    }
    this.finish(job, cause, 'IDLE');
  }

  failJob(job) {
    if (job.ended) return;
    this.detach(job);
    try { request({ type: 'store_abort', writer: job.writer }); } catch (e) { /* already aborted */ }
    this.finish(job, 'ERROR', 'ERROR');
  }

  finish(job, cause, state) {
    this.audio = job.heard; this.cause = cause; this.state = state;   // SD-AUDIO
    send({ type: 'log', call: this.id, kind: 'job-end', fields: { cause, state, frames: job.framesDone } });
  }

  onState(newState) {
    this.callState = newState;
    if (newState === 'IDLE' && this.job && !this.job.ended) this.endJob(this.job, 'HANGUP');  // SD-HANGUP
  }

  onDtmf(onset) {
    const job = this.job;
    if (job && job.p.bargeIn && !job.ended && onset >= job.firstTick) this.endJob(job, 'BARGEIN');
  }

  // -- the API ---------------------------------------------------------------------------------
  record(a) {
    this.checkCall();
    if (this.state === 'RECORDING') throw error('a record job is already running');
    const p = params(a, true);
    if (!this.startJob(p)) return { cause: this.cause };
    const job = this.job;
    this.wait('the record job to end', () => job.ended);
    return { cause: this.cause };
  }

  start(a) {
    this.checkCall();
    if (this.state === 'RECORDING') throw error('a record job is already running');
    return this.startJob(params(a, false));
  }

  stop() {
    this.checkCall();
    const job = this.job;
    if (this.state !== 'RECORDING' || !job || job.ended) return true;
    this.endJob(job, 'ABORTED');
    return this.state !== 'ERROR';
  }

  wait_until_finished(a) {
    this.checkCall();
    const t = 'seconds_timeout' in a ? a.seconds_timeout : 120;
    const ticks = t === null ? null : checkSeconds('seconds_timeout', t, true);
    const job = this.job;
    if (this.state !== 'RECORDING' || !job || job.ended) return { cause: this.cause };
    let expired = false;
    const timer = ticks === null ? null : this.schedule(now + ticks, 'APP', () => { expired = true; });
    this.wait('the record job to end', () => job.ended || expired);
    if (timer !== null) this.cancel(timer);
    return { cause: job.ended ? this.cause : 'TIMEOUT' };   // SD-WAIT-TIMEOUT
  }

  get_state() { return { state: this.state }; }
  get_cause() { return { cause: this.state === 'RECORDING' ? 'NONE' : this.cause }; }
  audio_detected_in_recording() { return this.state === 'RECORDING' ? null : this.audio; }
}

// -- the harness's requests ------------------------------------------------------------------------
const METHODS = {
  record: (r, a) => r.record(a),
  start: (r, a) => r.start(a),
  stop: (r) => r.stop(),
  wait_until_finished: (r, a) => r.wait_until_finished(a),
  state: (r) => r.get_state(),
  cause: (r) => r.get_cause(),
  audio_detected_in_recording: (r) => r.audio_detected_in_recording(),
};

function handle(m) {
  switch (m.type) {
    case 'hello':
      return { type: 'hello', protocol: 1, implementation: { name: 'js-recorder', version: '1.0' },
        capabilities: { formats: ['alaw', 's16bit'], rates: [8000], cipher: false, inband_dtmf: false,
          out_of_band_dtmf: true } };
    case 'open':
      calls.set(m.call, new Recorder(m.call, m.call_state));
      return { type: 'ok' };
    case 'close':
      calls.delete(m.call);
      return { type: 'ok' };
    case 'invoke': {
      const rec = calls.get(m.call);
      rec.callState = m.call_state;
      return { type: 'return', value: METHODS[m.method](rec, m.args) };
    }
    case 'scan': {
      const raw = Buffer.from(m.audio, 'base64');
      const pcm = new Int16Array(raw.length / 2);
      for (let i = 0; i < pcm.length; i++) pcm[i] = raw.readInt16LE(2 * i);
      return { type: 'scanned', stop: sinks.get(m.sink).scan(m.start, pcm, m.n) };
    }
    case 'commit': {
      const job = sinks.get(m.sink);
      if (job) job.commit(m.start, m.n);
      return { type: 'ok' };
    }
    case 'event': {
      const rec = calls.get(m.call);
      if (m.event === 'state') rec.onState(m.new);
      else if (m.event === 'dtmf') rec.onDtmf(m.onset);
      else if (m.event === 'timer') {
        const fn = timers.get(m.timer);
        timers.delete(m.timer);
        if (fn) fn();
      }
      return { type: 'ok' };
    }
    default:
      throw new Error(`unknown request ${m.type}`);
  }
}

function dispatch(m) {
  let reply;
  try {
    reply = handle(m);
  } catch (e) {
    if (e instanceof ApiError) {
      reply = { type: 'raise', exception: e.kind === 'Exception' ? 'TypeError' : e.kind, kind: e.kind, message: e.message };
      if (e.parameter) reply.parameter = e.parameter;
    } else {
      reply = { type: 'raise', exception: 'Exception', kind: 'Exception', message: String(e && e.stack || e) };
    }
  }
  if (['commit', 'event'].includes(m.type) && waits.length && waits[waits.length - 1]()) reply.wake = true;
  reply.re = m.id;
  send(reply);
}

for (;;) dispatch(read());
