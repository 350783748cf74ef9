// `wharf publish [app[:tag]…]`: the publish stage (push to every registry target in wharf.yml, with
// alias tags and the signatures sign made). Thin shell over publisher/publish.
import type { Command } from 'commander';
import { publishStage } from '../../publisher/publish/index.ts';
import { catalogOption, jsonOption } from './common.ts';
import { runStageCommand, type StageCommandOptions } from './stages.ts';

export default function register(program: Command): void {
  program
    .command('publish')
    .description(
      'push built, verified, signed images to every registry target (wharf.yml registries[]) with their alias tags; exit 1 when a target failed or publishing is blocked',
    )
    .argument('[targets...]', 'app or app:tag (default: all)')
    .option(
      '--work-dir <dir>',
      'work directory with image layouts and signatures (default: $WHARF_WORK_DIR, else .wharf/work)',
    )
    .option('--concurrency <n>', 'artifacts published at the same time', '2')
    .addOption(catalogOption())
    .addOption(jsonOption())
    .action(async (args: string[], o: StageCommandOptions) => {
      await runStageCommand('publish', publishStage, args, o);
    });
}
