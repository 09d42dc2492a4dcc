// twinsearch demo page: plain browser JavaScript, no build step, no external resources.
// Talks to the API beside it (relative URLs, so the page also works under a path prefix).
'use strict';

(() => {
  const KEY_STORAGE = 'twinsearch.apiKey';
  const $ = (id) => {
    const el = document.getElementById(id);
    if (!el) throw new Error(`demo page: #${id} is missing`);
    return el;
  };

  // ---------- formatting ----------

  const isNum = (x) => typeof x === 'number' && Number.isFinite(x);
  const fmtDistance = (x) => (isNum(x) ? (Math.abs(x) >= 100 ? x.toFixed(1) : x.toFixed(3)) : '–');
  // Thresholds can be set very small by hand: keep two significant digits there.
  const fmtThreshold = (x) => (isNum(x) && x !== 0 && Math.abs(x) < 0.01 ? x.toPrecision(2) : fmtDistance(x));
  const fmtRate = (x) => (isNum(x) ? `${(x * 100).toFixed(x > 0 && x < 0.01 ? 2 : 1)}%` : null);
  const fmtMs = (x) => (isNum(x) ? `${x < 10 ? x.toFixed(1) : Math.round(x)} ms` : null);

  /** "calibrated, FAR 0.10%, TAR 97.3%" from a threshold object of the API. */
  function describeThreshold(t) {
    if (!t || !isNum(t.value)) return '';
    const parts = [t.source === 'request' ? 'custom' : 'calibrated'];
    const far = fmtRate(t.far);
    const tar = fmtRate(t.tar);
    if (far) parts.push(`FAR ${far}`);
    if (tar) parts.push(`TAR ${tar}`);
    const open = t.openSet && typeof t.openSet === 'object' ? t.openSet : null;
    if (open && fmtRate(open.fpir)) parts.push(`strangers matched ${fmtRate(open.fpir)} of ${open.strangers}, known people found ${fmtRate(open.tir)}`);
    return parts.join(', ');
  }

  function describeTimings(timings, stages = ['decode', 'embed', 'search', 'total']) {
    if (!timings || typeof timings !== 'object') return '';
    return stages
      .map((label) => [`${label}Ms`, label])
      .map(([key, label]) => (fmtMs(timings[key]) ? `${label} ${fmtMs(timings[key])}` : null))
      .filter(Boolean)
      .join(' · ');
  }

  // ---------- API access ----------

  const apiKey = {
    get: () => {
      try {
        return localStorage.getItem(KEY_STORAGE) || '';
      } catch {
        return ''; // storage can be disabled; the page still works without a key
      }
    },
    set: (value) => {
      try {
        if (value) localStorage.setItem(KEY_STORAGE, value);
        else localStorage.removeItem(KEY_STORAGE);
      } catch {
        /* ignore: see above */
      }
    },
  };

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  function authHeaders() {
    const key = apiKey.get();
    return key ? { Authorization: `Bearer ${key}` } : {};
  }

  /** Fetches JSON from the API; every failure becomes an ApiError with the API's code when it sent one. */
  async function api(path, init = {}) {
    let response;
    try {
      response = await fetch(path, { ...init, headers: { Accept: 'application/json', ...authHeaders(), ...(init.headers || {}) } });
    } catch (err) {
      if (err && err.name === 'AbortError') throw err;
      throw new ApiError(0, 'network_error', 'The server could not be reached.');
    }
    let body = null;
    const text = await response.text();
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = null;
    }
    if (!response.ok) {
      const e = body && body.error;
      throw new ApiError(
        response.status,
        (e && typeof e.code === 'string' && e.code) || `http_${response.status}`,
        (e && typeof e.message === 'string' && e.message) || response.statusText || 'Request failed.',
      );
    }
    if (body === null) throw new ApiError(response.status, 'bad_response', 'The server sent a response that is not JSON.');
    return body;
  }

  const HINTS = {
    0: 'Check that the server is running and reachable from this browser.',
    400: 'Check the options (k between 1 and 100, a threshold within bounds) and try again.',
    401: 'This server needs an API key: open “API key” at the top right and enter one.',
    403: 'The API key was refused for this action. Check that it is a valid key with read access.',
    404: 'The server does not know this endpoint.',
    413: 'The image is too large for the server. Try a smaller file.',
    415: 'The file is not an image the server accepts (JPEG, PNG, WebP, GIF, TIFF or AVIF) or could not be decoded.',
    422: 'The image was read but cannot be used (for example, it is too small).',
    429: 'Too many requests: wait a moment and try again.',
    503: 'The server is not ready yet (model or index still loading). Try again in a moment.',
  };

  const TITLES = {
    0: 'Network error',
    400: 'Bad request',
    401: 'API key required',
    403: 'API key refused',
    404: 'Not found',
    413: 'Image too large',
    415: 'Unsupported image',
    422: 'Image not usable',
    429: 'Slow down',
    503: 'Service not ready',
  };

  // Titles for the API's error codes (docs/api.md); unknown codes fall back to the status.
  const CODE_TITLES = {
    MISSING_IMAGE: 'No image in the request',
    UNDECODABLE_IMAGE: 'Image could not be decoded',
    IMAGE_TOO_SMALL: 'Image too small',
    IMAGE_TOO_LARGE: 'Image too large',
    PAYLOAD_TOO_LARGE: 'Upload too large',
    INVALID_PARAMETER: 'Invalid option',
  };

  function showError(box, err) {
    const status = err instanceof ApiError ? err.status : 0;
    const code = err instanceof ApiError ? err.code : 'client_error';
    const message = err && err.message ? err.message : String(err);
    box.replaceChildren();
    const title = document.createElement('p');
    title.className = 'error-title';
    title.append(CODE_TITLES[code] || TITLES[status] || (status >= 500 ? 'Server error' : 'Request failed'));
    const codeEl = document.createElement('span');
    codeEl.className = 'error-code';
    codeEl.dataset.testid = 'error-code';
    codeEl.textContent = status ? `${status} · ${code}` : code;
    title.append(codeEl);
    const msg = document.createElement('p');
    msg.textContent = message;
    box.append(title, msg);
    const hint = HINTS[status] || (status >= 500 ? 'Something went wrong on the server. Try again; if it persists, check its log.' : '');
    if (hint) {
      const h = document.createElement('p');
      h.className = 'error-hint';
      h.textContent = hint;
      box.append(h);
    }
    box.hidden = false;
    if (status === 401 || status === 403) $('key-box').open = true;
  }

  // ---------- header: server status and API key ----------

  const status = {
    model: $('status-model'),
    index: $('status-index'),
    countsItem: $('status-counts-item'),
    counts: $('status-counts'),
  };

  /** Sets an identity name, allowing line breaks after "/" (e.g. "Latin/character01") rather than mid-word. */
  function setIdentityText(el, name) {
    const parts = String(name).split('/');
    el.replaceChildren();
    parts.forEach((part, i) => {
      el.append(i < parts.length - 1 ? `${part}/` : part);
      if (i < parts.length - 1) el.append(document.createElement('wbr'));
    });
    el.title = String(name);
  }

  function setText(el, value) {
    el.textContent = value;
    el.title = value;
  }

  /** Updates the header from whatever a response tells (model id, index version). */
  function noteServer(body) {
    if (!body || typeof body !== 'object') return;
    const model = body.model && typeof body.model === 'object' ? body.model : null;
    const modelId = (model && (model.id || model.modelId)) || body.modelId;
    if (typeof modelId === 'string') setText(status.model, modelId);
    const version = body.index && typeof body.index === 'object' ? body.index.version : null;
    if (typeof version === 'string') setText(status.index, version);
  }

  /** Reads GET v1/index defensively: its exact shape belongs to the server. */
  function noteIndexInfo(info) {
    if (!info || typeof info !== 'object') return;
    noteServer(info);
    const version = typeof info.version === 'string' ? info.version : null;
    if (version) setText(status.index, version);
    const counts = info.counts && typeof info.counts === 'object' ? info.counts : info;
    const identities = counts.identities;
    const images = isNum(counts.images) ? counts.images : counts.vectors;
    const parts = [];
    if (isNum(identities)) parts.push(`${identities.toLocaleString()} identities`);
    if (isNum(images)) parts.push(`${images.toLocaleString()} images`);
    if (parts.length) {
      setText(status.counts, parts.join(' · '));
      status.countsItem.hidden = false;
    }
    const model = info.model && typeof info.model === 'object' ? info.model : {};
    const threshold = model.threshold ?? info.threshold;
    if (isNum(threshold)) noteCalibrated({ value: threshold, source: 'calibrated' });
    else if (threshold && typeof threshold === 'object' && isNum(threshold.value)) noteCalibrated({ source: 'calibrated', ...threshold });
    else if (model.thresholds && isNum(model.thresholds.default)) noteCalibrated({ value: model.thresholds.default, source: 'calibrated' });
  }

  async function loadStatus() {
    try {
      noteIndexInfo(await api('v1/index'));
    } catch (err) {
      const label = err instanceof ApiError && (err.status === 401 || err.status === 403) ? 'needs API key' : 'unavailable';
      if (status.model.textContent === '…') setText(status.model, label);
      if (status.index.textContent === '…') setText(status.index, label);
    }
  }

  const keyBox = $('key-box');
  const keyInput = $('api-key');
  function renderKeyState() {
    const set = Boolean(apiKey.get());
    keyBox.dataset.set = String(set);
    $('key-state').textContent = set ? 'set' : 'not set';
  }
  keyInput.value = apiKey.get();
  renderKeyState();
  $('key-form').addEventListener('submit', (event) => {
    event.preventDefault();
    apiKey.set(keyInput.value.trim());
    renderKeyState();
    keyBox.open = false;
    loadStatus();
    retryRefused();
  });
  $('api-key-clear').addEventListener('click', () => {
    keyInput.value = '';
    apiKey.set('');
    renderKeyState();
    keyInput.focus();
  });
  keyBox.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && keyBox.open) {
      keyBox.open = false;
      keyBox.querySelector('summary').focus();
    }
  });

  // ---------- tabs (WAI-ARIA tabs pattern: arrow keys move, selection follows focus) ----------

  const tabs = [$('tab-search'), $('tab-verify')];
  function selectTab(tab, focus) {
    for (const t of tabs) {
      const selected = t === tab;
      t.setAttribute('aria-selected', String(selected));
      t.tabIndex = selected ? 0 : -1;
      $(t.getAttribute('aria-controls')).hidden = !selected;
    }
    if (focus) tab.focus();
    const hash = tab.id === 'tab-verify' ? '#verify' : '#search';
    if (location.hash !== hash) history.replaceState(null, '', hash);
  }
  tabs.forEach((tab, i) => {
    tab.addEventListener('click', () => selectTab(tab, false));
    tab.addEventListener('keydown', (event) => {
      const moves = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 };
      if (!(event.key in moves)) return;
      event.preventDefault();
      selectTab(tabs[(moves[event.key] + tabs.length) % tabs.length], true);
    });
  });
  if (location.hash === '#verify') selectTab(tabs[1], false);

  // ---------- image slots (drop zone + file input + preview) ----------

  /** Wires a drop zone; `onChange(file)` runs when a new image is chosen, dropped or pasted. */
  function imageSlot({ drop, input, preview, name, onChange }) {
    let file = null;
    let url = null;
    const slot = {
      get file() {
        return file;
      },
      set(next) {
        if (!next) return;
        file = next;
        if (url) URL.revokeObjectURL(url);
        url = URL.createObjectURL(next);
        preview.src = url;
        preview.alt = `Preview of ${next.name || 'the pasted image'}`;
        preview.hidden = false;
        drop.dataset.empty = 'false';
        const kb = next.size / 1024;
        name.textContent = `${next.name || 'pasted image'} · ${kb < 1024 ? `${kb.toFixed(1)} KB` : `${(kb / 1024).toFixed(2)} MB`}`;
        onChange(next);
      },
    };
    // A file the browser cannot show (not an image): no broken-image icon, the name says what it is.
    preview.addEventListener('error', () => {
      preview.hidden = true;
      drop.dataset.empty = 'true';
    });
    input.addEventListener('change', () => {
      if (input.files && input.files[0]) slot.set(input.files[0]);
      // Reset so choosing the same file again still fires "change".
      input.value = '';
    });
    drop.addEventListener('dragover', (event) => {
      event.preventDefault();
      if (event.dataTransfer) event.dataTransfer.dropEffect = 'copy';
      drop.classList.add('is-dragover');
    });
    drop.addEventListener('dragleave', () => drop.classList.remove('is-dragover'));
    drop.addEventListener('drop', (event) => {
      event.preventDefault();
      drop.classList.remove('is-dragover');
      const dropped = event.dataTransfer && event.dataTransfer.files[0];
      if (dropped) slot.set(dropped);
    });
    return slot;
  }

  // A file dropped outside a zone would otherwise navigate away from the page.
  window.addEventListener('dragover', (event) => event.preventDefault());
  window.addEventListener('drop', (event) => event.preventDefault());

  function setBusy(button, results, busy) {
    button.classList.toggle('is-busy', busy);
    button.setAttribute('aria-disabled', String(busy));
    results.setAttribute('aria-busy', String(busy));
  }

  /** Loads a gallery thumbnail; with an API key it must go through fetch to carry the header. */
  const thumbnailUrls = [];
  function loadThumbnail(img, path) {
    const holder = img.parentElement;
    img.addEventListener('error', () => (holder.dataset.failed = 'true'), { once: true });
    if (!apiKey.get()) {
      img.src = path;
      return;
    }
    fetch(path, { headers: authHeaders() })
      .then((r) => (r.ok ? r.blob() : Promise.reject(new Error(String(r.status)))))
      .then((blob) => {
        const url = URL.createObjectURL(blob);
        thumbnailUrls.push(url);
        img.src = url;
      })
      .catch(() => (holder.dataset.failed = 'true'));
  }

  // ---------- search ----------

  const search = {
    form: $('search-form'),
    submit: $('search-submit'),
    k: $('search-k'),
    thresholdOn: $('search-threshold-on'),
    threshold: $('search-threshold'),
    calibrated: $('calibrated-threshold'),
    thresholdWarning: $('threshold-warning'),
    results: $('search-results'),
    error: $('search-error'),
    live: $('search-live'),
    empty: $('search-empty'),
    verdict: $('search-verdict'),
    badge: $('search-verdict-badge'),
    title: $('search-verdict-title'),
    detail: $('search-verdict-detail'),
    matches: $('search-matches'),
    meta: $('search-meta'),
    template: $('match-template'),
    seq: 0,
    controller: null,
  };
  let calibratedThreshold = null;

  function noteCalibrated(t) {
    if (!t || !isNum(t.value) || t.source === 'request') return;
    calibratedThreshold = t.value;
    const extra = describeThreshold(t).replace(/^calibrated,? ?/, '');
    search.calibrated.textContent = `${fmtThreshold(t.value)}${extra ? ` (${extra})` : ''}`;
    // A threshold calibrated on too little data may match strangers: say so where it cannot be missed.
    const warning = t.openSet && typeof t.openSet.warning === 'string' ? t.openSet.warning : '';
    search.thresholdWarning.textContent = warning ? `Warning: ${warning}` : '';
    search.thresholdWarning.hidden = !warning;
    if (!search.thresholdOn.checked) search.threshold.value = String(Number(t.value.toFixed(4)));
  }

  search.thresholdOn.addEventListener('change', () => {
    search.threshold.disabled = !search.thresholdOn.checked;
    if (search.thresholdOn.checked) {
      if (!search.threshold.value && calibratedThreshold !== null) search.threshold.value = String(Number(calibratedThreshold.toFixed(4)));
      search.threshold.focus();
    }
  });

  const searchSlot = imageSlot({
    drop: $('search-drop'),
    input: $('search-file'),
    preview: $('search-preview'),
    name: $('search-file-name'),
    onChange: () => {
      search.submit.disabled = false;
      drawFaceBox(null);
      runSearch();
    },
  });

  search.form.addEventListener('submit', (event) => {
    event.preventDefault();
    runSearch();
  });

  function searchQuery() {
    const params = new URLSearchParams();
    const k = Number.parseInt(search.k.value, 10);
    if (Number.isInteger(k)) params.set('k', String(k));
    if (search.thresholdOn.checked && search.threshold.value !== '') params.set('threshold', search.threshold.value);
    const q = params.toString();
    return q ? `?${q}` : '';
  }

  async function runSearch() {
    const file = searchSlot.file;
    if (!file) return;
    if (search.controller) search.controller.abort();
    const controller = new AbortController();
    search.controller = controller;
    const seq = ++search.seq;
    const body = new FormData();
    body.append('image', file, file.name || 'query');
    setBusy(search.submit, search.results, true);
    search.error.hidden = true;
    try {
      const result = await api(`v1/search${searchQuery()}`, { method: 'POST', body, signal: controller.signal });
      if (seq !== search.seq) return;
      renderSearch(result);
    } catch (err) {
      if (seq !== search.seq || (err && err.name === 'AbortError')) return;
      search.verdict.hidden = true;
      search.matches.hidden = true;
      search.meta.hidden = true;
      search.empty.hidden = true;
      showError(search.error, err);
      search.live.textContent = `Search failed: ${err.message}`;
    } finally {
      if (seq === search.seq) setBusy(search.submit, search.results, false);
    }
  }

  /** Face models: draws the searched face's box over the query preview (object-fit: contain). */
  function drawFaceBox(face) {
    const box = $('search-face-box');
    const img = $('search-preview');
    if (!face || !face.box || img.hidden || !img.naturalWidth) {
      box.hidden = true;
      return;
    }
    const scale = Math.min(img.clientWidth / img.naturalWidth, img.clientHeight / img.naturalHeight);
    const left = (img.clientWidth - img.naturalWidth * scale) / 2;
    const top = (img.clientHeight - img.naturalHeight * scale) / 2;
    box.style.left = `${left + face.box.x * scale}px`;
    box.style.top = `${top + face.box.y * scale}px`;
    box.style.width = `${face.box.width * scale}px`;
    box.style.height = `${face.box.height * scale}px`;
    box.title = `Face searched (detector score ${isNum(face.score) ? face.score.toFixed(2) : '–'})`;
    box.hidden = false;
  }

  function renderSearch(result) {
    noteServer(result);
    drawFaceBox(result.face);
    const threshold = result.threshold || {};
    noteCalibrated(threshold);
    const decision = result.decision || {};
    const matches = Array.isArray(result.matches) ? result.matches : [];
    const thr = isNum(threshold.value) ? threshold.value : null;

    // Verdict for the top decision.
    const matched = decision.match === true && decision.identity !== 'unknown';
    search.verdict.dataset.kind = matched ? 'match' : 'unknown';
    search.badge.textContent = matched ? 'MATCH' : 'UNKNOWN';
    if (matched) setIdentityText(search.title, decision.identity);
    else search.title.textContent = 'Unknown';
    const thrText = thr === null ? '' : `threshold ${fmtThreshold(thr)}${describeThreshold(threshold) ? ` (${describeThreshold(threshold)})` : ''}`;
    if (matched) {
      search.detail.textContent = `Distance ${fmtDistance(decision.distance)} ≤ ${thrText}`;
    } else if (matches.length === 0) {
      search.detail.textContent = 'The gallery returned no candidates.';
    } else {
      const top = matches[0];
      search.detail.textContent = `Nearest is ${top.identity} at distance ${fmtDistance(top.distance)}, above the ${thrText}`;
    }
    search.verdict.hidden = false;
    search.empty.hidden = true;

    // Cards.
    for (const url of thumbnailUrls.splice(0)) URL.revokeObjectURL(url);
    const maxDistance = Math.max(thr !== null ? thr * 1.5 : 0, ...matches.map((m) => (isNum(m.distance) ? m.distance : 0)), 1e-9);
    const items = matches.map((m, i) => {
      const node = search.template.content.firstElementChild.cloneNode(true);
      // Only the decided identity is a MATCH; every other result shows its distance against the threshold.
      const decided = matched && i === 0;
      node.dataset.match = String(decided);
      node.querySelector('.match-rank').textContent = String(i + 1);
      setIdentityText(node.querySelector('.match-identity'), m.identity);
      node.querySelector('.match-pill').textContent = decided ? 'MATCH' : thr === null ? '–' : `${m.distance <= thr ? '≤' : '>'} ${fmtThreshold(thr)}`;
      node.querySelector('.match-distance').textContent = fmtDistance(m.distance);
      node.querySelector('.match-similarity').textContent = isNum(m.similarity) ? m.similarity.toFixed(3) : '–';
      node.querySelector('.bar-fill').style.width = `${Math.min(100, ((isNum(m.distance) ? m.distance : 0) / maxDistance) * 100)}%`;
      const tick = node.querySelector('.bar-threshold');
      if (thr !== null) tick.style.left = `${Math.min(100, (thr / maxDistance) * 100)}%`;
      else tick.hidden = true;
      const image = m.image && typeof m.image === 'object' ? m.image : {};
      const img = node.querySelector('img');
      img.alt = `Gallery image of ${m.identity}`;
      if (typeof image.thumbnail === 'string') loadThumbnail(img, image.thumbnail.replace(/^\//, ''));
      else node.querySelector('.match-thumb').dataset.failed = 'true';
      const source = node.querySelector('.match-source');
      source.textContent = image.source || image.label || '';
      source.title = source.textContent;
      node.setAttribute('aria-label', `Rank ${i + 1}: ${m.identity}, distance ${fmtDistance(m.distance)}, ${decided ? 'match' : thr === null ? 'no threshold' : `${m.distance <= thr ? 'within' : 'above'} the threshold`}`);
      return node;
    });
    search.matches.replaceChildren(...items);
    search.matches.hidden = items.length === 0;

    const metaParts = [describeTimings(result.timings)];
    if (result.model && result.model.id) metaParts.push(`model ${result.model.id}`);
    if (result.index && result.index.version) metaParts.push(`index ${result.index.version}`);
    search.meta.textContent = metaParts.filter(Boolean).join('  ·  ');
    search.meta.hidden = !search.meta.textContent;

    search.live.textContent = matched
      ? `Match: ${decision.identity}, distance ${fmtDistance(decision.distance)}. ${matches.length} results.`
      : `Unknown: no gallery identity within the threshold. ${matches.length} results.`;
  }

  // ---------- verify ----------

  const verify = {
    form: $('verify-form'),
    submit: $('verify-submit'),
    results: $('verify-results'),
    error: $('verify-error'),
    live: $('verify-live'),
    verdict: $('verify-verdict'),
    badge: $('verify-verdict-badge'),
    title: $('verify-verdict-title'),
    detail: $('verify-verdict-detail'),
    accept: $('verify-gauge-accept'),
    marker: $('verify-gauge-marker'),
    thresholdLabel: $('verify-gauge-threshold-label'),
    max: $('verify-gauge-max'),
    meta: $('verify-meta'),
    seq: 0,
    controller: null,
  };

  const onVerifyChange = () => {
    const ready = Boolean(slotA.file && slotB.file);
    verify.submit.disabled = !ready;
    if (ready) runVerify();
  };
  const slotA = imageSlot({ drop: $('verify-drop-a'), input: $('verify-file-a'), preview: $('verify-preview-a'), name: $('verify-file-name-a'), onChange: onVerifyChange });
  const slotB = imageSlot({ drop: $('verify-drop-b'), input: $('verify-file-b'), preview: $('verify-preview-b'), name: $('verify-file-name-b'), onChange: onVerifyChange });

  verify.form.addEventListener('submit', (event) => {
    event.preventDefault();
    runVerify();
  });

  async function runVerify() {
    if (!slotA.file || !slotB.file) return;
    if (verify.controller) verify.controller.abort();
    const controller = new AbortController();
    verify.controller = controller;
    const seq = ++verify.seq;
    const body = new FormData();
    body.append('image_a', slotA.file, slotA.file.name || 'a');
    body.append('image_b', slotB.file, slotB.file.name || 'b');
    setBusy(verify.submit, verify.results, true);
    verify.error.hidden = true;
    try {
      const result = await api('v1/verify', { method: 'POST', body, signal: controller.signal });
      if (seq !== verify.seq) return;
      renderVerify(result);
    } catch (err) {
      if (seq !== verify.seq || (err && err.name === 'AbortError')) return;
      verify.verdict.hidden = true;
      verify.meta.hidden = true;
      showError(verify.error, err);
      verify.live.textContent = `Verification failed: ${err.message}`;
    } finally {
      if (seq === verify.seq) setBusy(verify.submit, verify.results, false);
    }
  }

  function renderVerify(result) {
    noteServer(result);
    const threshold = result.threshold || {};
    noteCalibrated(threshold);
    const same = result.same === true;
    const d = isNum(result.distance) ? result.distance : null;
    const thr = isNum(threshold.value) ? threshold.value : null;
    verify.verdict.dataset.kind = same ? 'same' : 'different';
    verify.badge.textContent = same ? 'SAME' : 'DIFFERENT';
    verify.title.textContent = same ? 'Same identity' : 'Different identities';
    const parts = [`Distance ${fmtDistance(d)} ${same ? '≤' : '>'} threshold ${fmtThreshold(thr)}`];
    if (describeThreshold(threshold)) parts[0] += ` (${describeThreshold(threshold)})`;
    if (isNum(result.similarity)) parts.push(`similarity ${result.similarity.toFixed(3)}`);
    verify.detail.textContent = parts.join(' · ');

    // Gauge: distance against the threshold on a common scale.
    const scale = Math.max(thr !== null ? thr * 2 : 0, d !== null ? d * 1.15 : 0, 1e-9);
    const pct = (x) => `${Math.min(100, Math.max(0, (x / scale) * 100))}%`;
    verify.accept.style.width = thr !== null ? pct(thr) : '0';
    verify.marker.style.left = d !== null ? pct(d) : '0';
    verify.thresholdLabel.style.left = thr !== null ? pct(thr) : '0';
    verify.thresholdLabel.textContent = thr !== null ? `threshold ${fmtThreshold(thr)}` : '';
    verify.max.textContent = fmtDistance(scale);
    verify.verdict.hidden = false;

    // Verification searches nothing: its searchMs is always zero.
    const metaParts = [describeTimings(result.timings, ['decode', 'embed', 'total'])];
    if (result.model && result.model.id) metaParts.push(`model ${result.model.id}`);
    verify.meta.textContent = metaParts.filter(Boolean).join('  ·  ');
    verify.meta.hidden = !verify.meta.textContent;
    verify.live.textContent = `${same ? 'Same identity' : 'Different identities'}: distance ${fmtDistance(d)}, threshold ${fmtThreshold(thr)}.`;
  }

  /** After a new key is saved: repeat the requests that were refused for want of one. */
  function retryRefused() {
    const refused = (box) => !box.hidden && /^40[13] /.test(box.querySelector('.error-code')?.textContent || '');
    if (refused(search.error)) runSearch();
    if (refused(verify.error)) runVerify();
  }

  // ---------- paste an image from the clipboard into the visible tab ----------

  document.addEventListener('paste', (event) => {
    const items = event.clipboardData ? Array.from(event.clipboardData.files) : [];
    const image = items.find((f) => f.type.startsWith('image/'));
    if (!image) return;
    event.preventDefault();
    if (!$('panel-search').hidden) searchSlot.set(image);
    else (slotA.file && !slotB.file ? slotB : slotA).set(image);
  });

  loadStatus();
})();
