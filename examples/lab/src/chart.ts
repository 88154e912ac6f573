/** One group of bars: a city and its latency per mode. */
export interface ChartGroup {
  label: string;
  values: Array<{ series: string; value: number }>;
  /** Optional physical floor drawn as a tick per series. */
  floors?: Array<{ series: string; value: number }>;
}

const COLOURS = ['#d1495b', '#2e86ab', '#3bb273', '#edae49', '#7768ae'];

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Renders a grouped horizontal bar chart as a standalone SVG document. */
export function barChartSvg(options: { title: string; unit: string; groups: ChartGroup[] }): string {
  const series = [...new Set(options.groups.flatMap((g) => g.values.map((v) => v.series)))];
  const max = Math.max(1, ...options.groups.flatMap((g) => [...g.values, ...(g.floors ?? [])].map((v) => v.value)));
  const left = 120;
  const width = 760;
  const plot = width - left - 60;
  const barHeight = 14;
  const groupGap = 14;
  const top = 56;
  const groupHeight = series.length * barHeight + groupGap;
  const height = top + options.groups.length * groupHeight + 40;
  const x = (v: number): number => left + (v / max) * plot;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`);
  parts.push(`<rect width="100%" height="100%" fill="#fff"/>`);
  parts.push(`<text x="${left}" y="20" font-size="15" font-weight="bold">${escapeXml(options.title)}</text>`);
  series.forEach((name, i) => {
    parts.push(`<rect x="${left + i * 170}" y="30" width="12" height="12" fill="${COLOURS[i % COLOURS.length]}"/>`);
    parts.push(`<text x="${left + i * 170 + 16}" y="40">${escapeXml(name)}</text>`);
  });
  options.groups.forEach((group, gi) => {
    const gy = top + gi * groupHeight;
    parts.push(`<text x="${left - 8}" y="${gy + (series.length * barHeight) / 2 + 4}" text-anchor="end" font-weight="bold">${escapeXml(group.label)}</text>`);
    series.forEach((name, si) => {
      const value = group.values.find((v) => v.series === name)?.value;
      if (value === undefined || !Number.isFinite(value)) return;
      const y = gy + si * barHeight;
      parts.push(`<rect x="${left}" y="${y}" width="${Math.max(1, x(value) - left)}" height="${barHeight - 2}" fill="${COLOURS[si % COLOURS.length]}"/>`);
      parts.push(`<text x="${x(value) + 4}" y="${y + barHeight - 4}">${value.toFixed(0)} ${escapeXml(options.unit)}</text>`);
      const floor = group.floors?.find((f) => f.series === name)?.value;
      if (floor !== undefined && Number.isFinite(floor)) {
        parts.push(`<line x1="${x(floor)}" x2="${x(floor)}" y1="${y - 1}" y2="${y + barHeight - 1}" stroke="#000" stroke-width="2"/>`);
      }
    });
  });
  parts.push(`<text x="${left}" y="${height - 12}" fill="#555">Black ticks: physical floor (great-circle distance at 200,000 km/s, no routing overhead).</text>`);
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
