// The placed points on one map: a distinct marker (a square with a cross) at each position the
// server answered for this map's metric, the chosen one larger; clicking one chooses it.
import { mapToScreen } from '../lib/viewport.js';
import { markersFor } from '../lib/placed.js';

export function placedMarkers(svg) {
  const g = svg.append('g').attr('class', 'placed-markers');
  let chosen = () => {};
  const layer = {};
  layer.onChoose = (fn) => { chosen = fn; return layer; };

  /** Draw the markers of `s.placed` on the map of `s.metric` under transform `t` in viewport `vp`. */
  layer.update = (s, t, vp) => {
    const markers = s.mapInfo ? markersFor(s.placed ?? [], s.metric, s.placedActive) : [];
    const sel = g.selectAll('g.placed-marker').data(markers, (d) => d.id).join((enter) => {
      const m = enter.append('g').attr('class', 'placed-marker');
      m.append('rect').attr('x', -6).attr('y', -6).attr('width', 12).attr('height', 12);
      m.append('path').attr('d', 'M-4,0H4M0,-4V4');
      m.append('title');
      return m;
    });
    sel.attr('data-id', (d) => d.id).attr('data-x', (d) => d.x).attr('data-y', (d) => d.y)
      .classed('active', (d) => d.active)
      .attr('transform', (d) => {
        const [x, y] = mapToScreen(t, vp, d.x, d.y);
        return `translate(${x},${y}) scale(${d.active ? 1.4 : 1})`;
      })
      .on('click', (event, d) => { event.stopPropagation(); chosen(d.id); });
    sel.select('title').text((d) => `placed: ${d.label}`);
    return layer;
  };
  return layer;
}
