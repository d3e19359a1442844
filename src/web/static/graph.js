// gitoku: the knowledge-graph page's script. Reads the graph from the JSON block #graph-data, lays it
// out with a deterministic force-directed layout (fixed start positions, a fixed number of iterations,
// run once before drawing) and draws it as SVG: nodes coloured by kind (CSS classes), directed edges
// with arrowheads, wheel zoom and drag pan via the viewBox, draggable nodes, a side panel for the
// selected node. Every label and data value is untrusted text: it only ever becomes text nodes
// (textContent) or attribute values, never markup. The page lists every node and edge without it.
/* global document, window */
(function () {
  'use strict';

  var SVG_NS = 'http://www.w3.org/2000/svg';
  var ITERATIONS = 360;

  var GLYPH = { file: 'F', run: 'R', pull_request: 'PR', agent: 'A', evidence: 'E', commit: 'C', file_range: 'L', task: 'T', claim: 'Cl', decision: 'D', failure: '!' };

  var dataEl = document.getElementById('graph-data');
  var svg = document.getElementById('graph-svg');
  var panel = document.getElementById('graph-panel');
  if (!dataEl || !svg || !panel) return;
  var graph;
  try {
    graph = JSON.parse(dataEl.textContent || '{}');
  } catch {
    return;
  }
  if (!graph || !graph.nodes || !graph.nodes.length) return;

  function kindClass(kind) {
    return /^[a-z_]{1,32}$/.test(kind) ? kind.replace(/_/g, '-') : 'other';
  }
  /** Only our own links (built by the server) become hrefs. */
  function safeHref(href) {
    return typeof href === 'string' && href.charAt(0) === '/' && href.charAt(1) !== '/' ? href : null;
  }
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function svgEl(tag, attrs, className) {
    var node = document.createElementNS(SVG_NS, tag);
    if (className) node.setAttribute('class', className);
    if (attrs) for (var k in attrs) if (Object.prototype.hasOwnProperty.call(attrs, k)) node.setAttribute(k, String(attrs[k]));
    return node;
  }

  // ---------- the model ----------

  var nodes = graph.nodes.slice();
  var byId = {};
  nodes.forEach(function (n, i) {
    n.index = i;
    n.neighbours = [];
    n.edges = [];
    byId[n.id] = n;
  });
  var edges = (graph.edges || []).filter(function (e) {
    return byId[e.src] && byId[e.dst] && e.src !== e.dst;
  });
  edges.forEach(function (e) {
    e.s = byId[e.src];
    e.d = byId[e.dst];
    e.s.neighbours.push(e.d);
    e.d.neighbours.push(e.s);
    e.s.edges.push(e);
    e.d.edges.push(e);
  });
  var root = byId[graph.root] || nodes[0];

  function radius(n) {
    if (n === root) return 17;
    if (n.kind === 'run' || n.kind === 'file') return 14;
    if (n.kind === 'file_range') return 9;
    return 11;
  }
  function labelWidth(n) {
    return Math.min(30, (n.short || '').length) * 6.4 + 10;
  }

  // ---------- layout: rings by hop distance, then a fixed number of force iterations ----------

  function layout() {
    var level = {};
    var order = [root];
    level[root.id] = 0;
    for (var q = 0; q < order.length; q++) {
      var cur = order[q];
      // Neighbours in a stable order: kind, then id.
      var next = cur.neighbours.slice().sort(function (a, b) {
        return a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : a.id - b.id;
      });
      for (var j = 0; j < next.length; j++) {
        if (level[next[j].id] === undefined) {
          level[next[j].id] = level[cur.id] + 1;
          next[j].parent = cur;
          order.push(next[j]);
        }
      }
    }
    var maxLevel = 0;
    nodes.forEach(function (n) {
      if (level[n.id] === undefined) {
        level[n.id] = -1;
        order.push(n);
      } else if (level[n.id] > maxLevel) maxLevel = level[n.id];
    });
    nodes.forEach(function (n) {
      if (level[n.id] === -1) level[n.id] = maxLevel + 1;
    });
    // Each ring in BFS order (children follow their parent round the circle).
    var rings = {};
    order.forEach(function (n) {
      (rings[level[n.id]] = rings[level[n.id]] || []).push(n);
    });
    Object.keys(rings).forEach(function (l) {
      var ring = rings[l];
      var r = Number(l) * 150;
      ring.forEach(function (n, i) {
        var angle = (2 * Math.PI * i) / ring.length + Number(l) * 0.35;
        n.x = r * Math.cos(angle);
        n.y = r * Math.sin(angle);
      });
    });
    root.x = 0;
    root.y = 0;

    var count = nodes.length;
    var k = 80;
    var dx = new Float64Array(count);
    var dy = new Float64Array(count);
    var temperature = 80;
    for (var it = 0; it < ITERATIONS; it++) {
      dx.fill(0);
      dy.fill(0);
      for (var a = 0; a < count; a++) {
        var na = nodes[a];
        for (var b = a + 1; b < count; b++) {
          var nb = nodes[b];
          var ex = na.x - nb.x;
          var ey = na.y - nb.y;
          var d2 = ex * ex + ey * ey;
          if (d2 < 0.01) {
            // Coincident: nudge apart deterministically.
            ex = (a % 7) - 3 + 0.5;
            ey = (b % 5) - 2 + 0.5;
            d2 = ex * ex + ey * ey;
          }
          var d = Math.sqrt(d2);
          var f = (k * k) / d;
          if (d > 600) f *= 600 / d;
          dx[a] += (ex / d) * f;
          dy[a] += (ey / d) * f;
          dx[b] -= (ex / d) * f;
          dy[b] -= (ey / d) * f;
        }
      }
      for (var e = 0; e < edges.length; e++) {
        var s = edges[e].s;
        var t = edges[e].d;
        var fx = s.x - t.x;
        var fy = s.y - t.y;
        var dist = Math.sqrt(fx * fx + fy * fy) || 0.01;
        var pull = (dist * dist) / k / Math.max(1, Math.sqrt(Math.min(s.neighbours.length, t.neighbours.length)));
        dx[s.index] -= (fx / dist) * pull;
        dy[s.index] -= (fy / dist) * pull;
        dx[t.index] += (fx / dist) * pull;
        dy[t.index] += (fy / dist) * pull;
      }
      for (var i = 0; i < count; i++) {
        var n = nodes[i];
        if (n === root) continue;
        // A little gravity keeps separate pieces together.
        dx[i] -= n.x * 0.03;
        dy[i] -= n.y * 0.03;
        var len = Math.sqrt(dx[i] * dx[i] + dy[i] * dy[i]) || 1;
        var step = Math.min(len, temperature);
        n.x += (dx[i] / len) * step;
        n.y += (dy[i] / len) * step;
      }
      temperature = Math.max(1.5, temperature * 0.985);
    }
  }

  /** Turns the drawing (about the root) so its long axis is horizontal, to suit a wide canvas. */
  function alignLongAxis() {
    var n = nodes.length;
    if (n < 3) return;
    var mx = 0;
    var my = 0;
    nodes.forEach(function (p) {
      mx += p.x;
      my += p.y;
    });
    mx /= n;
    my /= n;
    var sxx = 0;
    var syy = 0;
    var sxy = 0;
    nodes.forEach(function (p) {
      sxx += (p.x - mx) * (p.x - mx);
      syy += (p.y - my) * (p.y - my);
      sxy += (p.x - mx) * (p.y - my);
    });
    var angle = 0.5 * Math.atan2(2 * sxy, sxx - syy);
    var cos = Math.cos(-angle);
    var sin = Math.sin(-angle);
    nodes.forEach(function (p) {
      var x = p.x - root.x;
      var y = p.y - root.y;
      p.x = root.x + x * cos - y * sin;
      p.y = root.y + x * sin + y * cos;
    });
  }

  /** Make room for the labels: pushes apart nodes whose label boxes overlap (after the rotation: boxes are horizontal). */
  function separateLabels() {
    var count = nodes.length;
    for (var pass = 0; pass < 40; pass++) {
      var moved = false;
      for (var p = 0; p < count; p++) {
        for (var r2 = p + 1; r2 < count; r2++) {
          var u = nodes[p];
          var v = nodes[r2];
          var w = (Math.max(labelWidth(u), radius(u) * 2) + Math.max(labelWidth(v), radius(v) * 2)) / 2 + 6;
          var h = 40;
          var ox = w - Math.abs(u.x - v.x);
          var oy = h - Math.abs(u.y - v.y);
          if (ox > 0 && oy > 0) {
            moved = true;
            var sx = u.x < v.x || (u.x === v.x && u.index < v.index) ? -1 : 1;
            var sy = u.y < v.y || (u.y === v.y && u.index < v.index) ? -1 : 1;
            // Separate along the cheaper axis.
            if (oy * 1.6 < ox) {
              shift(u, 0, (sy * oy) / 2);
              shift(v, 0, (-sy * oy) / 2);
            } else {
              shift(u, (sx * ox) / 2, 0);
              shift(v, (-sx * ox) / 2, 0);
            }
          }
        }
      }
      if (!moved) break;
    }
    function shift(n, x, y) {
      if (n === root) return;
      n.x += x;
      n.y += y;
    }
  }

  // ---------- drawing ----------

  var view = { x: 0, y: 0, w: 100, h: 100 };
  var edgeLayer;
  var nodeLayer;

  function setView(v) {
    view = v;
    svg.setAttribute('viewBox', v.x + ' ' + v.y + ' ' + v.w + ' ' + v.h);
  }

  function bounds() {
    var minX = Infinity;
    var minY = Infinity;
    var maxX = -Infinity;
    var maxY = -Infinity;
    nodes.forEach(function (n) {
      var half = Math.max(labelWidth(n) / 2, radius(n));
      minX = Math.min(minX, n.x - half);
      maxX = Math.max(maxX, n.x + half);
      minY = Math.min(minY, n.y - radius(n));
      maxY = Math.max(maxY, n.y + radius(n) + 20);
    });
    return { x: minX, y: minY, w: maxX - minX, h: maxY - minY };
  }

  /** Aspect ratio of the drawing area. */
  function aspect() {
    var r = svg.getBoundingClientRect();
    return r.width > 0 && r.height > 0 ? r.width / r.height : 1.6;
  }

  function pixelsPerUnit() {
    var r = svg.getBoundingClientRect();
    return r.width > 0 ? r.width / view.w : 1;
  }

  /**
   * Shows everything below the legend, at most 1.25 pixels per unit (a small graph is not blown up);
   * when that would be smaller than `minScale`, starts at `minScale` around the root instead.
   */
  function fit(minScale) {
    var b = bounds();
    var r = svg.getBoundingClientRect();
    var W = r.width || 900;
    var H = r.height || 600;
    var legend = document.getElementById('graph-legend');
    var top = legend ? legend.offsetTop + legend.offsetHeight + 16 : 32;
    if (top > H / 2) top = 32;
    var side = 32;
    var bottom = 36;
    var availW = Math.max(50, W - side * 2);
    var availH = Math.max(50, H - top - bottom);
    var scale = Math.min(availW / Math.max(b.w, 1), availH / Math.max(b.h, 1), 1.25);
    var cx = b.x + b.w / 2;
    var cy = b.y + b.h / 2;
    if (minScale && scale < minScale) {
      scale = minScale;
      cx = root.x;
      cy = root.y;
    }
    var w = W / scale;
    var h = H / scale;
    setView({ x: cx - (side + availW / 2) / scale, y: cy - (top + availH / 2) / scale, w: w, h: h });
  }

  function edgeEnds(e) {
    var x1 = e.s.x;
    var y1 = e.s.y;
    var x2 = e.d.x;
    var y2 = e.d.y;
    var len = Math.sqrt((x2 - x1) * (x2 - x1) + (y2 - y1) * (y2 - y1)) || 1;
    var ux = (x2 - x1) / len;
    var uy = (y2 - y1) / len;
    var r1 = radius(e.s) + 1;
    var r2 = radius(e.d) + 3;
    return { x1: x1 + ux * r1, y1: y1 + uy * r1, x2: x2 - ux * r2, y2: y2 - uy * r2 };
  }

  function placeEdge(e) {
    var p = edgeEnds(e);
    e.line.setAttribute('x1', p.x1.toFixed(1));
    e.line.setAttribute('y1', p.y1.toFixed(1));
    e.line.setAttribute('x2', p.x2.toFixed(1));
    e.line.setAttribute('y2', p.y2.toFixed(1));
    e.hit.setAttribute('x1', p.x1.toFixed(1));
    e.hit.setAttribute('y1', p.y1.toFixed(1));
    e.hit.setAttribute('x2', p.x2.toFixed(1));
    e.hit.setAttribute('y2', p.y2.toFixed(1));
    e.label.setAttribute('x', ((p.x1 + p.x2) / 2).toFixed(1));
    e.label.setAttribute('y', ((p.y1 + p.y2) / 2 - 3).toFixed(1));
  }

  function placeNode(n) {
    n.g.setAttribute('transform', 'translate(' + n.x.toFixed(1) + ',' + n.y.toFixed(1) + ')');
    n.edges.forEach(placeEdge);
  }

  /** Hides the edge labels that would sit on a node or its caption (a selected node's edges show theirs anyway). */
  function declutterEdgeLabels() {
    var boxes = nodes.map(function (n) {
      var half = Math.max(labelWidth(n) / 2, radius(n)) + 2;
      return { x1: n.x - half, x2: n.x + half, y1: n.y - radius(n) - 2, y2: n.y + radius(n) + 19 };
    });
    var placed = [];
    edges.forEach(function (e) {
      var p = edgeEnds(e);
      var mx = (p.x1 + p.x2) / 2;
      var my = (p.y1 + p.y2) / 2 - 3;
      var half = e.kind.length * 3.1 + 3;
      var box = { x1: mx - half, x2: mx + half, y1: my - 10, y2: my + 3 };
      var hit = function (o) {
        return box.x1 < o.x2 && box.x2 > o.x1 && box.y1 < o.y2 && box.y2 > o.y1;
      };
      var crowded = boxes.some(hit) || placed.some(hit);
      e.g.classList.toggle('is-crowded', crowded);
      if (!crowded) placed.push(box);
    });
  }

  function arrowMarker(defs, id, className) {
    var marker = svgEl('marker', { id: id, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 9, markerHeight: 9, markerUnits: 'userSpaceOnUse', orient: 'auto' });
    marker.appendChild(svgEl('path', { d: 'M0,1 L10,5 L0,9 z' }, className));
    defs.appendChild(marker);
  }

  function draw() {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var defs = svgEl('defs');
    arrowMarker(defs, 'gk-arrow', 'gk-arrow-head');
    arrowMarker(defs, 'gk-arrow-active', 'gk-arrow-head gk-arrow-head-active');
    svg.appendChild(defs);
    // A transparent backdrop catches pans that start on empty space.
    svg.appendChild(svgEl('rect', { x: -100000, y: -100000, width: 200000, height: 200000 }, 'gk-backdrop'));
    edgeLayer = svgEl('g', null, 'gk-edge-layer');
    nodeLayer = svgEl('g', null, 'gk-node-layer');
    svg.appendChild(edgeLayer);
    svg.appendChild(nodeLayer);
    if (edges.length <= 24) svg.classList.add('gk-all-edge-labels');

    edges.forEach(function (e) {
      var g = svgEl('g', { 'data-edge-id': e.id, 'data-kind': e.kind }, 'gk-edge gk-edge-' + kindClass(e.kind));
      var title = svgEl('title');
      title.textContent = (e.s.label || '') + ' \u2014' + e.kind + '\u2192 ' + (e.d.label || '');
      e.hit = svgEl('line', null, 'gk-edge-hit');
      e.line = svgEl('line', { 'marker-end': 'url(#gk-arrow)' }, 'gk-edge-line');
      e.label = svgEl('text', { 'text-anchor': 'middle' }, 'gk-edge-label');
      e.label.textContent = e.kind;
      g.appendChild(title);
      g.appendChild(e.hit);
      g.appendChild(e.line);
      g.appendChild(e.label);
      e.g = g;
      edgeLayer.appendChild(g);
    });

    nodes.forEach(function (n) {
      var cls = 'gk-node gk-kind-' + kindClass(n.kind) + (n === root ? ' is-root' : '');
      var g = svgEl('g', { tabindex: 0, role: 'button', 'data-node-id': n.id, 'data-kind': n.kind, 'aria-label': (n.kindLabel || n.kind) + ': ' + (n.label || n.key) }, cls);
      var title = svgEl('title');
      title.textContent = (n.kindLabel || n.kind) + ' \u00b7 ' + (n.label || n.key);
      g.appendChild(title);
      var r = radius(n);
      if (n === root) g.appendChild(svgEl('circle', { r: r + 6 }, 'gk-root-ring'));
      g.appendChild(svgEl('circle', { r: r + 4 }, 'gk-focus-ring'));
      g.appendChild(svgEl('circle', { r: r }, 'gk-node-dot'));
      var glyph = svgEl('text', { 'text-anchor': 'middle', dy: '0.35em' }, 'gk-node-glyph' + ((GLYPH[n.kind] || '').length > 1 ? ' gk-node-glyph-sm' : ''));
      glyph.textContent = r >= 11 ? GLYPH[n.kind] || '' : '';
      g.appendChild(glyph);
      var text = svgEl('text', { 'text-anchor': 'middle', y: r + 14 }, 'gk-node-label');
      var caption = n.short || n.label || n.key || '';
      text.textContent = caption.length > 30 ? caption.slice(0, 29) + '\u2026' : caption;
      g.appendChild(text);
      n.g = g;
      nodeLayer.appendChild(g);
    });
    nodes.forEach(placeNode);
  }

  // ---------- selection and the side panel ----------

  function select(n, opts) {
    // The first view (the root selected) is not dimmed; a chosen node puts the rest in the background.
    svg.classList.toggle('has-selection', !!n && !(opts && opts.quiet));
    nodes.forEach(function (m) {
      m.g.classList.toggle('is-selected', m === n);
      m.g.classList.toggle('is-neighbour', !!n && n.neighbours.indexOf(m) !== -1);
      m.g.setAttribute('aria-pressed', m === n ? 'true' : 'false');
    });
    edges.forEach(function (e) {
      var active = !!n && (e.s === n || e.d === n);
      e.g.classList.toggle('is-active', active);
      e.line.setAttribute('marker-end', active ? 'url(#gk-arrow-active)' : 'url(#gk-arrow)');
      // Active edges drawn last, above the others.
      if (active) edgeLayer.appendChild(e.g);
    });
    if (n) {
      nodeLayer.appendChild(n.g);
      renderPanel(n);
      if (opts && opts.reveal) reveal(n);
    }
  }

  function renderPanel(n) {
    var body = el('div', 'gk-panel-body');
    body.setAttribute('data-node-id', String(n.id));
    var kind = el('div', 'gk-panel-kind');
    var badge = el('span', 'gk-kind-badge gk-kind-' + kindClass(n.kind));
    var sw = el('span', 'gk-swatch gk-kind-' + kindClass(n.kind));
    sw.setAttribute('aria-hidden', 'true');
    badge.appendChild(sw);
    badge.appendChild(document.createTextNode(' ' + (n.kindLabel || n.kind)));
    kind.appendChild(badge);
    if (n.root) kind.appendChild(el('span', 'badge gk-root-badge', 'root'));
    body.appendChild(kind);
    body.appendChild(el('h2', 'gk-panel-title', n.label || n.key));
    if (n.detail) body.appendChild(el('p', 'gk-panel-detail', n.detail));

    var actions = el('div', 'gk-panel-actions');
    var href = safeHref(n.href);
    if (href) {
      var open = el('a', 'btn btn-sm btn-primary gk-open', n.hrefLabel || 'Open');
      open.setAttribute('href', href);
      actions.appendChild(open);
    }
    var graphHref = safeHref(n.graphHref);
    if (graphHref) {
      var centre = el('a', 'btn btn-sm gk-centre', 'Centre graph here');
      centre.setAttribute('href', graphHref);
      actions.appendChild(centre);
    }
    body.appendChild(actions);

    // People-facing fields only (the server's `facts`: no internal ids), links where the thing has a page.
    var facts = Array.isArray(n.facts) ? n.facts : [];
    if (facts.length) {
      var dl = el('dl', 'gk-fields');
      facts.forEach(function (f) {
        dl.appendChild(el('dt', null, f.label));
        var dd = el('dd');
        var href = safeHref(f.href);
        if (href) {
          var a = el('a', null, f.value);
          a.setAttribute('href', href);
          dd.appendChild(a);
        } else dd.textContent = String(f.value);
        dl.appendChild(dd);
      });
      body.appendChild(dl);
    }

    if (n.edges.length) {
      var wrap = el('div', 'gk-panel-edges');
      wrap.appendChild(el('h3', 'gk-panel-h', 'Connections'));
      var ul = el('ul');
      n.edges.forEach(function (e) {
        var out = e.s === n;
        var other = out ? e.d : e.s;
        var li = el('li');
        li.appendChild(el('span', 'gk-edge-dir', out ? e.kind + ' \u2192' : '\u2190 ' + e.kind));
        var a = el('a', null, other.label || other.key);
        a.setAttribute('href', '#gk-node-' + other.id);
        a.setAttribute('data-select', String(other.id));
        li.appendChild(a);
        ul.appendChild(li);
      });
      wrap.appendChild(ul);
      body.appendChild(wrap);
    }
    while (panel.firstChild) panel.removeChild(panel.firstChild);
    panel.appendChild(body);
  }

  panel.addEventListener('click', function (ev) {
    var a = ev.target && ev.target.closest ? ev.target.closest('a[data-select]') : null;
    if (!a) return;
    var n = byId[a.getAttribute('data-select')];
    if (!n) return;
    ev.preventDefault();
    select(n, { reveal: true });
    n.g.focus({ preventScroll: true });
  });

  /** Pans so the node is in view when it is not. */
  function reveal(n) {
    var margin = Math.min(view.w, view.h) * 0.08;
    if (n.x > view.x + margin && n.x < view.x + view.w - margin && n.y > view.y + margin && n.y < view.y + view.h - margin) return;
    setView({ x: n.x - view.w / 2, y: n.y - view.h / 2, w: view.w, h: view.h });
  }

  // ---------- zoom, pan, drag ----------

  function toSvg(clientX, clientY) {
    var r = svg.getBoundingClientRect();
    // preserveAspectRatio="none": the viewBox fills the element exactly.
    return { x: view.x + ((clientX - r.left) / r.width) * view.w, y: view.y + ((clientY - r.top) / r.height) * view.h };
  }

  function zoomAt(factor, cx, cy) {
    var ppu = pixelsPerUnit() / factor;
    if (ppu < 0.08 || ppu > 6) return;
    var w = view.w * factor;
    var h = view.h * factor;
    setView({ x: cx - (cx - view.x) * factor, y: cy - (cy - view.y) * factor, w: w, h: h });
  }

  svg.addEventListener(
    'wheel',
    function (ev) {
      ev.preventDefault();
      var p = toSvg(ev.clientX, ev.clientY);
      var delta = ev.deltaMode === 1 ? ev.deltaY * 16 : ev.deltaY;
      zoomAt(Math.pow(1.0018, Math.max(-300, Math.min(300, delta))), p.x, p.y);
    },
    { passive: false },
  );

  var drag = null;
  svg.addEventListener('pointerdown', function (ev) {
    if (ev.button !== 0) return;
    var g = ev.target && ev.target.closest ? ev.target.closest('.gk-node') : null;
    var p = toSvg(ev.clientX, ev.clientY);
    if (g) {
      var n = byId[g.getAttribute('data-node-id')];
      if (!n) return;
      drag = { kind: 'node', node: n, dx: n.x - p.x, dy: n.y - p.y, startX: ev.clientX, startY: ev.clientY, moved: false };
    } else {
      drag = { kind: 'pan', startX: ev.clientX, startY: ev.clientY, view: { x: view.x, y: view.y, w: view.w, h: view.h }, moved: false };
      svg.classList.add('is-panning');
    }
    svg.setPointerCapture(ev.pointerId);
  });
  svg.addEventListener('pointermove', function (ev) {
    if (!drag) return;
    if (!drag.moved && Math.abs(ev.clientX - drag.startX) + Math.abs(ev.clientY - drag.startY) < 4) return;
    drag.moved = true;
    if (drag.kind === 'node') {
      var p = toSvg(ev.clientX, ev.clientY);
      drag.node.x = p.x + drag.dx;
      drag.node.y = p.y + drag.dy;
      drag.node.g.classList.add('is-dragging');
      placeNode(drag.node);
    } else {
      var r = svg.getBoundingClientRect();
      var ux = drag.view.w / (r.width || 1);
      var uy = drag.view.h / (r.height || 1);
      setView({ x: drag.view.x - (ev.clientX - drag.startX) * ux, y: drag.view.y - (ev.clientY - drag.startY) * uy, w: drag.view.w, h: drag.view.h });
    }
  });
  function endDrag(ev) {
    if (!drag) return;
    var d = drag;
    drag = null;
    svg.classList.remove('is-panning');
    if (svg.hasPointerCapture && svg.hasPointerCapture(ev.pointerId)) svg.releasePointerCapture(ev.pointerId);
    if (d.kind === 'node') {
      d.node.g.classList.remove('is-dragging');
      if (d.moved) declutterEdgeLabels();
      if (!d.moved && ev.type === 'pointerup') {
        select(d.node);
        d.node.g.focus({ preventScroll: true });
      }
    }
  }
  svg.addEventListener('pointerup', endDrag);
  svg.addEventListener('pointercancel', endDrag);

  svg.addEventListener('keydown', function (ev) {
    var g = ev.target && ev.target.closest ? ev.target.closest('.gk-node') : null;
    if (!g) return;
    if (ev.key === 'Enter' || ev.key === ' ') {
      ev.preventDefault();
      var n = byId[g.getAttribute('data-node-id')];
      if (n) select(n, { reveal: true });
    }
  });

  var zoomBox = document.getElementById('graph-zoom');
  if (zoomBox) {
    zoomBox.hidden = false;
    zoomBox.addEventListener('click', function (ev) {
      var b = ev.target && ev.target.closest ? ev.target.closest('[data-zoom]') : null;
      if (!b) return;
      var what = b.getAttribute('data-zoom');
      var cx = view.x + view.w / 2;
      var cy = view.y + view.h / 2;
      if (what === 'in') zoomAt(1 / 1.3, cx, cy);
      else if (what === 'out') zoomAt(1.3, cx, cy);
      else fit(0);
    });
  }

  // ---------- start ----------

  layout();
  alignLongAxis();
  separateLabels();
  svg.setAttribute('preserveAspectRatio', 'none');
  draw();
  declutterEdgeLabels();
  fit(0.7);
  var note = document.getElementById('graph-note');
  if (note) note.hidden = true;
  var hint = document.getElementById('graph-hint');
  if (hint) hint.hidden = false;
  svg.classList.add('is-ready');
  select(root, { quiet: true });

  // Keeps the drawing's proportions when the page is resized.
  var lastRatio = aspect();
  window.addEventListener('resize', function () {
    var ratio = aspect();
    if (Math.abs(ratio - lastRatio) < 0.001) return;
    lastRatio = ratio;
    var cy = view.y + view.h / 2;
    var h = view.w / ratio;
    setView({ x: view.x, y: cy - h / 2, w: view.w, h: h });
  });
})();
