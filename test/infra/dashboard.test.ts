import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { WATCHDOG_METRICS_NAMESPACE } from '#shared/ports/watchdog-metrics.ts';
import { WatchdogDashboard, type WatchdogDashboardProps, WatchdogDashboardPropsError } from '../../infra/dashboard.ts';

// The built-in CloudFormation validation costs ~2 s per synth and adds nothing to these assertions.
process.env.CDK_VALIDATION = 'false';

interface MetricWidget {
  type: string;
  properties: { title?: string; metrics?: unknown[][]; markdown?: string };
}

function synth(props: WatchdogDashboardProps): Template {
  const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'S');
  new WatchdogDashboard(stack, 'Dashboard', props);
  return Template.fromStack(stack);
}

/** The dashboard body: a Fn::Join of strings and tokens (region); tokens become `<region>`. */
function bodyOf(template: Template): string {
  const dashboards = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
  expect(dashboards).toHaveLength(1);
  const body = dashboards[0]?.Properties.DashboardBody as string | { 'Fn::Join': [string, unknown[]] };
  if (typeof body === 'string') return body;
  const [separator, parts] = body['Fn::Join'];
  return parts.map((p) => (typeof p === 'string' ? p : '<region>')).join(separator);
}

function widgetsOf(template: Template): MetricWidget[] {
  return (JSON.parse(bodyOf(template)) as { widgets: MetricWidget[] }).widgets;
}

/** All metric arrays of the widgets whose title starts with `titlePrefix`, flattened to strings. */
function metricsOf(widgets: MetricWidget[], titlePrefix: string): string[] {
  return widgets
    .filter((w) => w.properties.title?.startsWith(titlePrefix))
    .flatMap((w) => (w.properties.metrics ?? []).map((m) => JSON.stringify(m)));
}

describe('Construct: WatchdogDashboard', () => {
  let template: Template;
  let body: string;
  let widgets: MetricWidget[];
  beforeAll(() => {
    template = synth({
      applications: [
        { name: 'orders-enrichment', runtimeEnvironment: 'FLINK-1_20' },
        { name: 'payments-aggregation', runtimeEnvironment: 'FLINK-2_2' },
      ],
      dashboardName: 'flink-watchdog',
    });
    body = bodyOf(template);
    widgets = widgetsOf(template);
  });

  it('creates one dashboard with the given name', () => {
    // Assess
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'flink-watchdog' });
  });

  it('graphs fullRestarts for a FLINK-1_20 application, as new restarts per minute', () => {
    // Assess
    const restarts = metricsOf(widgets, 'orders-enrichment (FLINK-1_20): new fullRestarts');
    expect(restarts.some((m) => m.includes('DIFF(restarts)'))).toBe(true);
    expect(
      restarts.some(
        (m) =>
          m.includes('"AWS/KinesisAnalytics","fullRestarts","Application","orders-enrichment"') &&
          m.includes('"id":"restarts"'),
      ),
    ).toBe(true);
    expect(restarts.join()).not.toContain('numRestarts');
  });

  it('graphs numRestarts for a FLINK-2_2 application', () => {
    // Assess
    const restarts = metricsOf(widgets, 'payments-aggregation (FLINK-2_2): new numRestarts');
    expect(restarts.some((m) => m.includes('DIFF(restarts)'))).toBe(true);
    expect(restarts.join()).toContain('"AWS/KinesisAnalytics","numRestarts","Application","payments-aggregation"');
    expect(restarts.join()).not.toContain('fullRestarts');
  });

  it('graphs downtime on every runtime: FLINK-2_x still publishes it (deprecated, not removed)', () => {
    // Assess
    for (const app of ['orders-enrichment', 'payments-aggregation']) {
      expect(metricsOf(widgets, `${app}: downtime`).join()).toContain(
        `"AWS/KinesisAnalytics","downtime","Application","${app}"`,
      );
    }
    expect(body).not.toContain('no downtime');
  });

  it("graphs the watchdog's own metrics per application from the FlinkWatchdog namespace", () => {
    // Assess
    for (const app of ['orders-enrichment', 'payments-aggregation']) {
      const actions = metricsOf(widgets, `${app}: watchdog incidents and actions`).join();
      for (const name of ['IncidentOpened', 'RemediationAction', 'IncidentResolved', 'IncidentEscalated']) {
        expect(actions).toContain(`"${WATCHDOG_METRICS_NAMESPACE}","${name}","Application","${app}"`);
      }
      expect(metricsOf(widgets, `${app}: time to recovery`).join()).toContain(
        `"${WATCHDOG_METRICS_NAMESPACE}","TimeToRecovery","Application","${app}"`,
      );
    }
  });

  it('graphs DetectorEventRejected without dimension', () => {
    // Assess
    expect(metricsOf(widgets, 'Detector: rejected events')).toEqual([
      expect.stringContaining(`"${WATCHDOG_METRICS_NAMESPACE}","DetectorEventRejected",{`),
    ]);
  });

  it('fills each application row to the full grid width', () => {
    // Assess
    const rowWidth = (app: string) =>
      widgets
        .filter((w) => w.properties.title?.startsWith(app))
        .reduce((sum, w) => sum + (w as MetricWidget & { width: number }).width, 0);
    expect(rowWidth('orders-enrichment')).toBe(24);
    expect(rowWidth('payments-aggregation')).toBe(24);
  });

  it('graphs the fleet with Metrics Insights: top 10 numRestarts, fullRestarts and downtime by application', () => {
    // Assess
    const fleet = (title: string) => metricsOf(widgets, title).join();
    for (const [title, metric] of [
      ['Fleet: top 10 numRestarts', 'numRestarts'],
      ['Fleet: top 10 fullRestarts', 'fullRestarts'],
      ['Fleet: top 10 downtime', 'downtime'],
    ] as const) {
      expect(fleet(title)).toContain(
        `SELECT MAX(${metric}) FROM SCHEMA(\\"AWS/KinesisAnalytics\\", Application) GROUP BY Application ORDER BY MAX() DESC LIMIT 10`,
      );
    }
  });

  it("sums the watchdog's incidents and actions over every application", () => {
    // Assess
    const totals = metricsOf(widgets, 'Fleet: watchdog incidents and actions').join();
    for (const name of ['IncidentOpened', 'RemediationAction', 'IncidentResolved', 'IncidentEscalated']) {
      expect(totals).toContain(`SELECT SUM(${name}) FROM SCHEMA(\\"${WATCHDOG_METRICS_NAMESPACE}\\", Application)`);
    }
  });

  it('gives only the first 10 listed applications a row, and says how many more the fleet widgets cover', () => {
    // Prepare
    const applications = Array.from({ length: 25 }, (_, i) => ({
      name: `app-${String(i).padStart(2, '0')}`,
      runtimeEnvironment: 'FLINK-1_20',
    }));

    // Act
    const many = widgetsOf(synth({ applications }));

    // Assess
    const rowTitles = many.filter(
      (w) => w.properties.title?.startsWith('app-') && w.properties.title.includes('downtime'),
    );
    expect(rowTitles.map((w) => w.properties.title)).toEqual(
      applications.slice(0, 10).map((a) => `${a.name}: downtime (ms)`),
    );
    expect(
      many.some(
        (w) => w.properties.markdown?.includes('25 listed applications') && w.properties.markdown.includes('15 more'),
      ),
    ).toBe(true);
  });

  it('rejects a duplicate application and a runtime environment that is not FLINK-x_y', () => {
    // Act / Assess
    expect(() =>
      synth({
        applications: [
          { name: 'a', runtimeEnvironment: 'FLINK-1_20' },
          { name: 'a', runtimeEnvironment: 'FLINK-2_2' },
        ],
      }),
    ).toThrow(WatchdogDashboardPropsError);
    expect(() => synth({ applications: [{ name: 'a', runtimeEnvironment: 'flink-1.20' }] })).toThrow(/FLINK-1_20/);
  });
});
