// `wharf daemon`: run the scheduled jobs (watch, pipeline, rescan, site, events) and serve /healthz,
// /metrics and the webhook endpoint on a loopback port until SIGTERM/SIGINT.
import type { Command } from 'commander';
import { Daemon } from '../../publisher/scheduler/index.ts';
import { UsageError, catalogOption, openCatalog } from './common.ts';
import { formatLogLine } from '../../publisher/scheduler/log.ts';

export default function register(program: Command): void {
  program
    .command('daemon')
    .description(
      'run Wharf by itself: scheduled watch/pipeline/rescan/site/event jobs, /healthz, /metrics and webhooks',
    )
    .addOption(catalogOption())
    .option(
      '--port <n>',
      'HTTP port for /healthz, /metrics and /hooks (default: wharf.yml daemon.port, else 9464; 0 = any free)',
    )
    .option('--host <addr>', 'address to listen on (default 127.0.0.1)')
    .option('--site-port <n>', 'also serve the built marketplace on this port (rebuilt by the site job)')
    .option(
      '--site-out <dir>',
      'where the site job builds to and --site-port serves from (default: wharf.yml daemon.siteOut, else site/dist)',
    )
    .option('--json-logs', 'one JSON object per log line (for log collectors)')
    .action(
      async (o: {
        catalog?: string;
        port?: string;
        host?: string;
        sitePort?: string;
        siteOut?: string;
        jsonLogs?: boolean;
      }) => {
        const portOf = (flag: string, v: string | undefined) => {
          if (v === undefined) return undefined;
          const n = Number(v);
          if (!Number.isInteger(n) || n < 0 || n > 65535)
            throw new UsageError(`${flag} must be 0-65535, got ${v}`);
          return n;
        };
        const port = portOf('--port', o.port);
        const sitePort = portOf('--site-port', o.sitePort);
        const store = await openCatalog(o);
        const log = (level: string, msg: string, fields: Record<string, unknown> = {}) => {
          process.stdout.write(formatLogLine(new Date().toISOString(), level, msg, fields, !!o.jsonLogs));
        };
        const daemon = new Daemon({
          store,
          overrides: {
            ...(port !== undefined ? { port } : {}),
            ...(sitePort !== undefined ? { sitePort } : {}),
            ...(o.host ? { host: o.host } : {}),
            ...(o.siteOut ? { siteOut: o.siteOut } : {}),
          },
          log,
        });
        await daemon.start();
        await new Promise<void>((resolve) => {
          const onSignal = (sig: string) => {
            log('info', `received ${sig}; stopping`);
            // A second signal while stopping: abandon at once.
            process.once('SIGINT', () => process.exit(130));
            process.once('SIGTERM', () => process.exit(143));
            void daemon.stop().then(() => resolve());
          };
          process.once('SIGTERM', () => onSignal('SIGTERM'));
          process.once('SIGINT', () => onSignal('SIGINT'));
        });
        // Abandoned jobs may still hold timers or sockets: do not wait for them.
        process.exit(0);
      },
    );
}
