// The cluster events behind the timeline: a parser of the server-sent events format (the
// dashboard reads GET /cluster/events with fetch, see event-stream.js), the events in a shape
// the page can trust, their text, and the timeline (deduplicated, bounded, newest kept).
// Pure; classic script shared by the page and the tests (node:vm). Never throws.
(function (ns) {
  'use strict';

  /** A line longer than this is dropped (the node's events are a few hundred bytes). */
  const LINE_CHARS_MAX = 65536;
  /** Events the timeline keeps (the node keeps 256; the list shows these, newest first). */
  const TIMELINE_EVENTS_MAX = 200;

  /**
   * An incremental reader of `text/event-stream` (the WHATWG rules that matter here: lines end
   * with \n, \r\n or \r; `:` starts a comment; `data` lines join with \n; a blank line
   * dispatches a message that has data). push(text) returns the messages it completed.
   */
  function createSseParser() {
    let buffer = '';
    let skipping = false; // inside an over-long line: drop until its end
    let lastCharWasCr = false;
    let message = { id: null, event: null, data: [] };

    function line(text) {
      if (text === '') {
        const done = message.data.length > 0 ? { id: message.id, event: message.event || 'message', data: message.data.join('\n') } : null;
        message = { id: null, event: null, data: [] };
        return done;
      }
      if (text[0] === ':') return null;
      const colon = text.indexOf(':');
      const field = colon < 0 ? text : text.slice(0, colon);
      let value = colon < 0 ? '' : text.slice(colon + 1);
      if (value[0] === ' ') value = value.slice(1);
      if (field === 'data') message.data.push(value);
      else if (field === 'event') message.event = value;
      else if (field === 'id' && !value.includes('\u0000')) message.id = value;
      return null;
    }

    return {
      push(text) {
        const out = [];
        if (typeof text !== 'string') return out;
        let start = 0;
        for (let i = 0; i < text.length; i++) {
          const c = text[i];
          if (c !== '\n' && c !== '\r') continue;
          // \r\n split across two chunks: the \n ends nothing.
          if (c === '\n' && i === 0 && lastCharWasCr && buffer === '') {
            start = 1;
            continue;
          }
          if (c === '\n' && i > 0 && text[i - 1] === '\r') {
            start = i + 1;
            continue;
          }
          const whole = buffer + text.slice(start, i);
          buffer = '';
          if (!skipping) {
            const done = line(whole);
            if (done !== null) out.push(done);
          }
          skipping = false;
          start = i + 1;
        }
        lastCharWasCr = text.length > 0 && text[text.length - 1] === '\r';
        if (!skipping) {
          buffer += text.slice(start);
          if (buffer.length > LINE_CHARS_MAX) {
            buffer = '';
            skipping = true;
          }
        }
        return out;
      },
    };
  }

  const TYPES = [
    'leader_elected',
    'leader_lost',
    'member_added',
    'member_removed',
    'member_promoted',
    'member_address_changed',
    'snapshot_taken',
    'snapshot_installed',
    'node_joined',
    'node_left',
  ];

  function num(v) {
    return typeof v === 'number' && Number.isFinite(v) ? v : null;
  }

  function text(v) {
    return typeof v === 'string' && v.length <= 2048 ? v : null;
  }

  /** @returns a cluster event from a message's data (JSON text or an object), or null. */
  function normalizeClusterEvent(data) {
    let raw = data;
    if (typeof data === 'string') {
      try {
        raw = JSON.parse(data);
      } catch {
        return null;
      }
    }
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return null;
    const seq = num(raw.seq);
    const atMs = typeof raw.at === 'string' ? Date.parse(raw.at) : NaN;
    if (seq === null || !Number.isFinite(atMs) || !TYPES.includes(raw.type)) return null;
    return {
      seq,
      atMs,
      type: raw.type,
      node: num(raw.node),
      term: num(raw.term),
      leader: num(raw.leader),
      durationMs: num(raw.election_duration_ms),
      member: num(raw.member),
      url: text(raw.url),
      previousUrl: text(raw.previous_url),
      voter: typeof raw.voter === 'boolean' ? raw.voter : null,
      index: num(raw.index),
      bytes: num(raw.bytes),
    };
  }

  /** The timeline's groups, each with its own colour. */
  function eventCategory(type) {
    if (type === 'leader_elected' || type === 'leader_lost') return 'leader';
    if (type.startsWith('member_')) return 'member';
    if (type.startsWith('snapshot_')) return 'snapshot';
    return 'node';
  }

  /** The event's type as a label: "leader elected". */
  function eventLabel(type) {
    return type.replace(/_/g, ' ');
  }

  /** One sentence about an event. */
  function describeClusterEvent(e) {
    const of = (v) => (v === null ? '?' : String(v));
    switch (e.type) {
      case 'leader_elected':
        return (
          'Node ' +
          of(e.leader) +
          ' elected leader of term ' +
          of(e.term) +
          (e.durationMs === null ? '' : ' (' + ns.formatDuration(e.durationMs) + ' without a leader)')
        );
      case 'leader_lost':
        return 'Leader ' + of(e.leader) + ' lost in term ' + of(e.term);
      case 'member_added':
        return 'Member ' + of(e.member) + ' added as a ' + (e.voter === false ? 'learner' : 'voter') + (e.url ? ' at ' + e.url : '');
      case 'member_removed':
        return 'Member ' + of(e.member) + ' removed';
      case 'member_promoted':
        return 'Member ' + of(e.member) + ' promoted to voter';
      case 'member_address_changed':
        return 'Member ' + of(e.member) + ' moved' + (e.previousUrl ? ' from ' + e.previousUrl : '') + ' to ' + of(e.url);
      case 'snapshot_taken':
        return 'Snapshot taken at index ' + of(e.index) + (e.bytes === null ? '' : ' (' + ns.formatBytes(e.bytes) + ')');
      case 'snapshot_installed':
        return 'Snapshot installed at index ' + of(e.index);
      case 'node_joined':
        return 'Node ' + of(e.member) + ' reachable again';
      case 'node_left':
        return 'Node ' + of(e.member) + ' unreachable';
      default:
        return eventLabel(e.type);
    }
  }

  function createTimeline(maxEvents) {
    const max = maxEvents === undefined ? TIMELINE_EVENTS_MAX : maxEvents;
    if (!(max >= 1)) throw new Error('timeline: bad bound');
    return { max, events: [], keys: new Set(), version: 0 };
  }

  /**
   * Adds an event unless already there. The key has the time as well as the sequence number: a
   * node numbers its events from 1 again after a restart, and a replay must not hide those.
   * Kept in time order (then sequence), the newest `max`. Returns whether it was added.
   */
  function addTimelineEvent(timeline, e) {
    const key = e.seq + '@' + e.atMs;
    if (timeline.keys.has(key)) return false;
    timeline.keys.add(key);
    const events = timeline.events;
    let i = events.length;
    while (i > 0 && (events[i - 1].atMs > e.atMs || (events[i - 1].atMs === e.atMs && events[i - 1].seq > e.seq))) i--;
    events.splice(i, 0, e);
    timeline.version++;
    while (events.length > timeline.max) {
      const gone = events.shift();
      timeline.keys.delete(gone.seq + '@' + gone.atMs);
    }
    return true;
  }

  /** Marks for the strip over the last `windowMs` before `nowMs`: x from 0 (oldest) to 1 (now). */
  function timelineMarks(timeline, nowMs, windowMs) {
    const marks = [];
    for (const e of timeline.events) {
      const age = nowMs - e.atMs;
      if (age > windowMs) continue;
      // An event stamped a little ahead of this browser's clock is drawn at "now".
      marks.push({ x: Math.min(1, Math.max(0, 1 - age / windowMs)), category: eventCategory(e.type), seq: e.seq, label: describeClusterEvent(e) });
    }
    return marks;
  }

  /**
   * Bars of the elections chart: the last `max` leader_elected events of the timeline that
   * carry a duration, oldest first, each with its height as a share of the longest (0..1).
   */
  function electionBars(timeline, max) {
    const elected = timeline.events.filter((e) => e.type === 'leader_elected' && e.durationMs !== null).slice(-max);
    const longest = elected.reduce((m, e) => Math.max(m, e.durationMs), 0);
    return elected.map((e) => ({
      seq: e.seq,
      term: e.term,
      leader: e.leader,
      durationMs: e.durationMs,
      height: longest > 0 ? e.durationMs / longest : 0,
    }));
  }

  ns.createSseParser = createSseParser;
  ns.electionBars = electionBars;
  ns.normalizeClusterEvent = normalizeClusterEvent;
  ns.eventCategory = eventCategory;
  ns.eventLabel = eventLabel;
  ns.describeClusterEvent = describeClusterEvent;
  ns.createTimeline = createTimeline;
  ns.addTimelineEvent = addTimelineEvent;
  ns.timelineMarks = timelineMarks;
})((globalThis.CSDash = globalThis.CSDash || {}));
