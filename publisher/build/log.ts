// A size-capped in-memory log: keeps the last `cap` bytes (the end of a build log is what explains a
// failure), so a chatty build never grows memory without bound.
export class LogBuffer {
  readonly cap: number;
  private chunks: string[] = [];
  private bytes = 0;
  private dropped = false;
  constructor(cap: number) {
    this.cap = cap;
  }
  get size(): number {
    return this.bytes;
  }
  push(s: string): void {
    this.chunks.push(s);
    this.bytes += Buffer.byteLength(s);
    while (this.bytes > this.cap && this.chunks.length > 1) {
      this.bytes -= Buffer.byteLength(this.chunks.shift()!);
      this.dropped = true;
    }
  }
  text(): string {
    return (this.dropped ? '[… earlier output dropped …]\n' : '') + this.chunks.join('');
  }
}
