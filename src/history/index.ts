// history/: positions and resume (SPEC 9). The bounded in-memory history of delivered events that
// resuming subscribers replay from, and the position tokens clients hold.
export { type Entry, entryFacts, History, type HistoryOptions, positionedFrame } from './history.js';
export { compareMsSeq, formatToken, type Position, parseToken, splitId, TOKEN_RE } from './token.js';
