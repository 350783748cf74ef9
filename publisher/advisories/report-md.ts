// openEuler's image security report (the Markdown the community's openeuler-docker-images repository
// keeps under Security/reports/<registry>/<ns>/<image>/<tag>.md): the scan time, then one table per
// arch with 序号, 软件包, 漏洞ID (linked to the bulletin), 严重级别, 状态, 安装版本, 修复版本. Versions are
// printed as version-release without epoch and dist tag, the way those reports print them.
import { bulletinUrl } from './cvrf.ts';
import { displayFixed, displayInstalled, sortFindings, type AdvisoryFinding } from './match.ts';

export interface ReportArch {
  /** Image platform arch as the reports name it: amd64, arm64. */
  arch: string;
  findings: AdvisoryFinding[];
}

const HEADER = '|  序号  |  软件包  | 漏洞ID | 严重级别 |  状态  | 安装版本 | 修复版本 |';
const ALIGN = '| :----- | :-----  | :-----  | :----- | :----- | :----- | :----- | ';

/** "2026-08-13 23:02:00" in the given time zone (the community's reports use Beijing time). */
export function reportTime(at: Date, timeZone = 'Asia/Shanghai'): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-CA', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    })
      .formatToParts(at)
      .map((p) => [p.type, p.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second}`;
}

/** Table cells never carry a pipe or a newline (package names and versions cannot; be sure anyway). */
const cell = (s: string) => s.replace(/[|\r\n]/g, ' ');

export function renderOpenEulerReport(input: {
  scannedAt: Date;
  arches: ReportArch[];
  timeZone?: string;
}): string {
  const lines = [`# 扫描时间：${reportTime(input.scannedAt, input.timeZone)}`];
  for (const a of input.arches) {
    lines.push('', '--- ', ` ### 扫描架构：${cell(a.arch)} `, HEADER, ALIGN);
    sortFindings([...a.findings]).forEach((f, i) => {
      lines.push(
        `| ${i + 1} | ${cell(f.package)} | [${f.advisory}](${bulletinUrl(f.advisory)}) | ${f.severity} | ${f.status} | ${cell(displayInstalled(f))} | ${cell(displayFixed(f))} |`,
      );
    });
  }
  return lines.join('\n') + '\n';
}
