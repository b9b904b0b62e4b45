import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

export interface ChartSeries {
  label: string;
  values: (number | null)[];
  /** A CSS class name picks no colour in canvas; colours are given here. */
  stroke: string;
  dash?: number[];
  fill?: string;
}

/** A uPlot line chart over epoch-second x values; redrawn when the data changes. */
export function Chart(props: {
  title: string;
  x: number[];
  series: ChartSeries[];
  height?: number;
  id?: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const plot = new uPlot(
      {
        title: props.title,
        width: Math.max(320, el.clientWidth || 640),
        height: props.height ?? 220,
        scales: { x: { time: true } },
        legend: { show: true },
        series: [
          {},
          ...props.series.map((s) => ({
            label: s.label,
            stroke: s.stroke,
            width: 2,
            ...(s.dash ? { dash: s.dash } : {}),
            ...(s.fill ? { fill: s.fill } : {}),
            points: { show: false },
          })),
        ],
      },
      [props.x, ...props.series.map((s) => s.values)] as uPlot.AlignedData,
      el,
    );
    return () => plot.destroy();
  }, [JSON.stringify(props.x), JSON.stringify(props.series.map((s) => s.values)), props.title]);
  return <div class="chart" id={props.id} ref={box} />;
}
