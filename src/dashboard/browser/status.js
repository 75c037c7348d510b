// Normalises a `GET /cluster/status` body into a shape the view can trust: every
// field present, numbers as numbers or null, URLs only when http(s). Classic
// script shared by the page and the tests (node:vm). Never throws.
(function (ns) {
  'use strict';

  const MAX_MEMBERS = 64; // clusters are 3 to 7 nodes; bound the table anyway

  function num(v) {
    return typeof v === 'number' && Number.isFinite(v) ? v : null;
  }

  function str(v) {
    if (typeof v === 'string') return v;
    if (typeof v === 'number' && Number.isFinite(v)) return String(v);
    return null;
  }

  /** Only http and https URLs become links (never `javascript:`). */
  function httpUrl(v) {
    if (typeof v !== 'string') return null;
    try {
      const u = new URL(v);
      return u.protocol === 'http:' || u.protocol === 'https:' ? v : null;
    } catch {
      return null;
    }
  }

  /** The dashboard address of a node, from its base URL. */
  function dashboardUrl(base) {
    const url = httpUrl(base);
    return url === null ? null : url.replace(/\/+$/, '') + '/dashboard';
  }

  function normalizeMember(m) {
    if (m === null || typeof m !== 'object') return null;
    const id = str(m.id);
    if (id === null) return null;
    return {
      id,
      url: httpUrl(m.url),
      voter: m.voter !== false,
      matchIndex: num(m.matchIndex),
      lag: num(m.lag),
      connected: m.connected === true ? true : m.connected === false ? false : null,
    };
  }

  /** @returns a normalised status, or null when the body is not a status object. */
  function normalizeStatus(raw) {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return null;
    const leader =
      raw.leader !== null && typeof raw.leader === 'object' && str(raw.leader.id) !== null
        ? { id: str(raw.leader.id), url: httpUrl(raw.leader.url) }
        : null;
    const members = [];
    if (Array.isArray(raw.members)) {
      for (const m of raw.members.slice(0, MAX_MEMBERS)) {
        const member = normalizeMember(m);
        if (member !== null) members.push(member);
      }
    }
    return {
      nodeId: str(raw.nodeId),
      url: httpUrl(raw.url),
      role: str(raw.role) || 'unknown',
      term: num(raw.term),
      leader,
      commitIndex: num(raw.commitIndex),
      appliedIndex: num(raw.appliedIndex),
      snapshotIndex: num(raw.snapshotIndex),
      lastLogIndex: num(raw.lastLogIndex),
      members,
    };
  }

  ns.normalizeStatus = normalizeStatus;
  ns.dashboardUrl = dashboardUrl;
})((globalThis.CSDash = globalThis.CSDash || {}));
