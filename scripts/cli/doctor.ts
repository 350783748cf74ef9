// PLACEHOLDER — `wharf doctor` is written by issue 3's helper. Not done.
import type { Command } from 'commander';
export default function register(program: Command): void {
  program
    .command('doctor')
    .description('check the tools Wharf uses and say how to install what is missing')
    .option('--json')
    .action(() => {
      throw new Error('doctor not implemented yet');
    });
}
