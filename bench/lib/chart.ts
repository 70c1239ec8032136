/**
 * The scaling timeline as an SVG drawn by hand (no chart package): three panels over one time
 * axis (workers, queued tasks, tasks/s), each a polyline with a few labelled gridlines.
 */

export interface TimelineSample {
  t: number;
  workers: number;
  queue: number;
  tasksPerSec: number;
}

interface Marker {
  value: number;
  label: string;
}

const W = 820;
const PANEL_H = 140;
const GAP = 38;
const LEFT = 64;
const RIGHT = 20;
const TOP = 44;

const niceStep = (max: number, ticks: number): number => {
  const raw = max / ticks;
  const magnitude = 10 ** Math.floor(Math.log10(raw || 1));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * magnitude >= raw) return m * magnitude;
  return 10 * magnitude;
};

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

export const scalingChart = (
  samples: TimelineSample[],
  title: string,
  workerMarkers: Marker[] = [],
): string => {
  const tMax = Math.max(1, ...samples.map((s) => s.t));
  const plotW = W - LEFT - RIGHT;
  const x = (t: number) => LEFT + (t / tMax) * plotW;
  const panels: Array<{
    name: string;
    key: keyof TimelineSample;
    color: string;
    markers: Marker[];
  }> = [
    { name: 'workers', key: 'workers', color: '#1f77b4', markers: workerMarkers },
    { name: 'queued tasks', key: 'queue', color: '#d62728', markers: [] },
    { name: 'tasks/s completed', key: 'tasksPerSec', color: '#2ca02c', markers: [] },
  ];
  const height = TOP + panels.length * (PANEL_H + GAP) + 10;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" role="img" font-family="sans-serif" font-size="11">`,
    `<title>${esc(title)}</title>`,
    `<rect width="${W}" height="${height}" fill="#fff"/>`,
    `<text x="${LEFT}" y="22" font-size="14" font-weight="bold">${esc(title)}</text>`,
  ];
  panels.forEach((panel, i) => {
    const top = TOP + i * (PANEL_H + GAP);
    const values = samples.map((s) => s[panel.key] as number);
    const vMax = Math.max(1, ...values, ...panel.markers.map((m) => m.value));
    const step = niceStep(vMax, 4);
    const yMax = Math.ceil(vMax / step) * step;
    const y = (v: number) => top + PANEL_H - (v / yMax) * PANEL_H;
    out.push(`<text x="${LEFT}" y="${top - 6}" font-weight="bold">${esc(panel.name)}</text>`);
    for (let v = 0; v <= yMax + 1e-9; v += step) {
      out.push(
        `<line x1="${LEFT}" x2="${W - RIGHT}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#e5e5e5"/>`,
        `<text x="${LEFT - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" fill="#555">${Number(v.toFixed(2))}</text>`,
      );
    }
    const tStep = niceStep(tMax / 1000, 10) * 1000;
    for (let t = 0; t <= tMax; t += tStep) {
      out.push(
        `<line x1="${x(t).toFixed(1)}" x2="${x(t).toFixed(1)}" y1="${top}" y2="${top + PANEL_H}" stroke="#f0f0f0"/>`,
        `<text x="${x(t).toFixed(1)}" y="${top + PANEL_H + 14}" text-anchor="middle" fill="#555">${Number((t / 1000).toFixed(2))} s</text>`,
      );
    }
    for (const m of panel.markers) {
      out.push(
        `<line x1="${LEFT}" x2="${W - RIGHT}" y1="${y(m.value).toFixed(1)}" y2="${y(m.value).toFixed(1)}" stroke="#999" stroke-dasharray="4 3"/>`,
        `<text x="${W - RIGHT - 4}" y="${(y(m.value) + 11).toFixed(1)}" text-anchor="end" fill="#777">${esc(m.label)}</text>`,
      );
    }
    const points = samples.map((s, j) => ({ t: s.t, v: values[j] as number }));
    // A step line: a sampled value holds until the next sample.
    const path = points
      .map((p, j) => {
        const prev = points[j - 1];
        const stepPart = prev ? `${x(p.t).toFixed(1)},${y(prev.v).toFixed(1)} ` : '';
        return `${stepPart}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`;
      })
      .join(' ');
    out.push(
      `<polyline fill="none" stroke="${panel.color}" stroke-width="1.8" points="${path}"/>`,
      `<rect x="${LEFT}" y="${top}" width="${plotW}" height="${PANEL_H}" fill="none" stroke="#999"/>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
};
