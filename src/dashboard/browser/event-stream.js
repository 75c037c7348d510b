// Follows GET /cluster/events for the timeline. Read with fetch and a stream reader, not
// EventSource: EventSource cannot send headers, and with authentication on every request of
// the dashboard carries its token as Authorization: Bearer (session.js). On an ended or failed
// stream it reconnects after a backoff (1 s doubling to 10 s), asking for every event the node
// kept (the timeline drops the ones it has): after a node restart its sequence numbers start
// again at 1, so a Last-Event-ID from before would hide the new events.
// A stream silent for longer than three of the node's heartbeats (15 s) is taken as dead.
(function (ns) {
  'use strict';

  const PATH = '/cluster/events';
  const RETRY_FIRST_MS = 1000;
  const RETRY_MAX_MS = 10000;
  const IDLE_MAX_MS = 45000;

  /**
   * @param onEvent called with each normalised cluster event, replays included.
   * @returns want(headers|null, now): follow the stream with these request headers (a change
   * of Authorization reconnects; `now` also ends a retry's wait), or stop it (null); state():
   * what the stream is doing.
   */
  function createEventStream(onEvent) {
    let wanted = null; // headers to connect with, or null: stopped
    let running = null; // { controller, auth } of the current connection attempt
    let retryTimer = null;
    let retryMs = RETRY_FIRST_MS;
    const stats = { state: 'stopped', connects: 0, received: 0, reason: null };

    function authOf(headers) {
      return headers === null ? null : headers.Authorization || '';
    }

    function stop() {
      if (retryTimer !== null) clearTimeout(retryTimer);
      retryTimer = null;
      if (running !== null) running.controller.abort();
      running = null;
      stats.state = 'stopped';
    }

    function scheduleRetry(reason) {
      running = null;
      if (wanted === null) return;
      stats.state = 'retrying';
      stats.reason = reason;
      retryTimer = setTimeout(() => {
        retryTimer = null;
        if (wanted !== null && running === null) void connect(wanted);
      }, retryMs);
      retryMs = Math.min(RETRY_MAX_MS, retryMs * 2);
    }

    async function connect(headers) {
      const controller = new AbortController();
      const me = { controller, auth: authOf(headers) };
      running = me;
      stats.state = 'connecting';
      let idleTimer = null;
      const idle = () => {
        if (idleTimer !== null) clearTimeout(idleTimer);
        idleTimer = setTimeout(() => controller.abort(), IDLE_MAX_MS);
      };
      let reason = 'stream ended';
      try {
        idle();
        const res = await fetch(PATH, { cache: 'no-store', headers, signal: controller.signal });
        if (!res.ok || res.body === null) {
          reason = 'HTTP ' + res.status;
          return;
        }
        stats.state = 'live';
        stats.connects++;
        stats.reason = null;
        retryMs = RETRY_FIRST_MS;
        const parser = ns.createSseParser();
        const decoder = new TextDecoder();
        const reader = res.body.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          idle();
          for (const message of parser.push(decoder.decode(value, { stream: true }))) {
            const event = ns.normalizeClusterEvent(message.data);
            if (event === null) continue;
            stats.received++;
            onEvent(event);
          }
        }
      } catch (err) {
        reason = err && err.name === 'AbortError' ? 'no data for ' + IDLE_MAX_MS / 1000 + ' s' : 'connection failed';
      } finally {
        if (idleTimer !== null) clearTimeout(idleTimer);
        // Stopped or replaced meanwhile: whoever did that decides what comes next.
        if (running === me) scheduleRetry(reason);
      }
    }

    function want(headers, now) {
      if (headers === null) {
        wanted = null;
        stop();
        return;
      }
      const changed = wanted === null || authOf(wanted) !== authOf(headers);
      wanted = headers;
      if (!changed && (running !== null || (retryTimer !== null && now !== true))) return;
      stop();
      retryMs = RETRY_FIRST_MS;
      void connect(headers);
    }

    return {
      want,
      state() {
        return { state: stats.state, connects: stats.connects, received: stats.received, reason: stats.reason };
      },
    };
  }

  ns.createEventStream = createEventStream;
})((globalThis.CSDash = globalThis.CSDash || {}));
