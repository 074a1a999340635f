/** Polls `cond` every 20 ms until it holds; a deadline (not a timing assertion) turns a hang into a failure. */
export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, ms = 15000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
