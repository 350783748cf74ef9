// Backend name (catalog upstream.backend) → source. Adding a source is adding one file and one line.
import type { Source } from '../source.ts';
import git from './git.ts';
import gitee from './gitee.ts';
import github from './github.ts';
import gitlab from './gitlab.ts';
import httpJson from './http-json.ts';
import httpRegex from './http-regex.ts';
import npm from './npm.ts';
import oci from './oci.ts';
import pypi from './pypi.ts';
import rpm from './rpm.ts';

export const SOURCES: Record<string, Source> = {
  github,
  gitlab,
  gitee,
  git,
  oci,
  pypi,
  npm,
  rpm,
  'http-regex': httpRegex,
  'http-json': httpJson,
};
