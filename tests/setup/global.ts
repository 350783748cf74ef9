// Global test setup: nothing shared is started here; each test file starts the real services it
// needs (tests/helpers/*) on loopback ports of its own, so files run in parallel without colliding.
export default function setup(): void {
  process.env.WHARF_TEST = '1';
}
