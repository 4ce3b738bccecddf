/**
 * PNG charts rendered on the server with Chart.js on @napi-rs/canvas: latency CDF per variant (log
 * x axis), per-phase stacked bars, and one line chart per time series (pool occupancy over time,
 * latency against load). Every chart has a title, axis titles with units and a legend.
 */
import { createCanvas } from '@napi-rs/canvas';
import { Chart, registerables, type ChartConfiguration, type ChartItem, type Plugin } from 'chart.js';
import { histogramOf } from '../results/read.js';
import type { ResultsDocument, Series, VariantResults } from '../results/schema.js';
import { phaseNames } from './tables.js';

Chart.register(...registerables);

export interface RenderedChart {
  /** File name in the run directory. */
  file: string;
  title: string;
  png: Buffer;
}

const WIDTH = 960;
const HEIGHT = 540;
/** Enough points for a smooth curve; more only make the file bigger. */
const MAX_CDF_POINTS = 400;
const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

const color = (i: number): string => PALETTE[i % PALETTE.length]!;

// A PNG has no page behind it: paint the background, or text and lines sit on transparency.
const whiteBackground: Plugin = {
  id: 'white-background',
  beforeDraw: (chart) => {
    const { ctx } = chart;
    ctx.save();
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, chart.width, chart.height);
    ctx.restore();
  },
};

async function renderPng(config: ChartConfiguration): Promise<Buffer> {
  const canvas = createCanvas(WIDTH, HEIGHT);
  const chart = new Chart(canvas as unknown as ChartItem, {
    ...config,
    options: { ...config.options, animation: false, responsive: false, devicePixelRatio: 1 },
    plugins: [whiteBackground, ...(config.plugins ?? [])],
  });
  try {
    return await canvas.encode('png');
  } finally {
    chart.destroy();
  }
}

const axisTitle = (text: string) => ({ display: true, text, font: { size: 13 } });
const chartTitle = (text: string) => ({ display: true, text, font: { size: 16 } });

/** The empirical CDF as (latency, fraction at or below it) points, thinned to at most MAX_CDF_POINTS. */
function cdfPoints(variant: VariantResults): Array<{ x: number; y: number }> {
  let values: number[];
  let counts: number[];
  if (variant.samplesMs !== undefined) {
    values = [...variant.samplesMs].sort((a, b) => a - b);
    counts = values.map(() => 1);
  } else {
    ({ valuesMs: values, counts } = histogramOf(variant));
  }
  const total = counts.reduce((sum, c) => sum + c, 0);
  const points: Array<{ x: number; y: number }> = [];
  let cumulative = 0;
  values.forEach((value, i) => {
    cumulative += counts[i]!;
    points.push({ x: value, y: cumulative / total });
  });
  const step = Math.ceil(points.length / MAX_CDF_POINTS);
  const thinned = points.filter((_, i) => i % step === 0 || i === points.length - 1);
  // Log axes cannot show 0; the curve starts at the smallest sample.
  return [{ x: Math.max(thinned[0]!.x, 0.001), y: 0 }, ...thinned.map((p) => ({ x: Math.max(p.x, 0.001), y: p.y }))];
}

function latencyCdf(document: ResultsDocument): Promise<Buffer> {
  return renderPng({
    type: 'line',
    data: {
      datasets: document.variants.map((variant, i) => ({
        label: `${variant.label} (n=${variant.summaryMs.n})`,
        data: cdfPoints(variant),
        borderColor: color(i),
        backgroundColor: color(i),
        borderWidth: 2,
        pointRadius: 0,
        stepped: true,
      })),
    },
    options: {
      plugins: { title: chartTitle(`Latency CDF per variant: bench ${document.benchmark}`), legend: { display: true, position: 'bottom' } },
      scales: {
        x: { type: 'logarithmic', title: axisTitle('latency (ms, log scale)') },
        y: { type: 'linear', min: 0, max: 1, title: axisTitle('fraction of samples at or below (0-1)') },
      },
    },
  });
}

function phaseBars(document: ResultsDocument): Promise<Buffer> | undefined {
  const variants = document.variants.filter((v) => v.phases !== undefined && v.phases.length > 0);
  if (variants.length === 0) return undefined;
  const names = phaseNames(variants);
  return renderPng({
    type: 'bar',
    data: {
      labels: variants.map((v) => v.label),
      datasets: names.map((name, i) => ({
        label: name,
        data: variants.map((v) => v.phases!.find((p) => p.name === name)?.summaryMs.p50 ?? 0),
        backgroundColor: color(i),
      })),
    },
    options: {
      indexAxis: 'y',
      plugins: { title: chartTitle(`Where the time goes: median of each phase per variant (bench ${document.benchmark})`), legend: { display: true, position: 'bottom' } },
      scales: {
        x: { stacked: true, title: axisTitle('median time (ms)') },
        y: { stacked: true, title: axisTitle('variant') },
      },
    },
  });
}

function seriesChart(series: Series): Promise<Buffer> {
  return renderPng({
    type: 'line',
    data: {
      datasets: series.lines.map((line, i) => ({
        label: line.name,
        data: line.points.map(([x, y]) => ({ x, y })),
        borderColor: color(i),
        backgroundColor: color(i),
        borderWidth: 2,
        pointRadius: series.stepped ? 0 : 3,
        stepped: series.stepped ?? false,
      })),
    },
    options: {
      plugins: { title: chartTitle(series.title), legend: { display: true, position: 'bottom' } },
      scales: {
        x: { type: 'linear', title: axisTitle(`${series.x.label} (${series.x.unit})`) },
        y: { type: 'linear', beginAtZero: true, title: axisTitle(`${series.y.label} (${series.y.unit})`) },
      },
    },
  });
}

export async function renderCharts(document: ResultsDocument): Promise<RenderedChart[]> {
  const charts: RenderedChart[] = [{ file: 'latency-cdf.png', title: 'Latency CDF per variant', png: await latencyCdf(document) }];
  const phases = phaseBars(document);
  if (phases) charts.push({ file: 'phases.png', title: 'Phase medians per variant', png: await phases });
  for (const series of document.series ?? []) charts.push({ file: `${series.id}.png`, title: series.title, png: await seriesChart(series) });
  return charts;
}
