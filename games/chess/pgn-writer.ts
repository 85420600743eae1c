/** PGN text for a game: tag pairs (the Seven Tag Roster first, in its order), then movetext wrapped at 80 columns. */

const SEVEN_TAG_ROSTER = ['Event', 'Site', 'Date', 'Round', 'White', 'Black', 'Result'];

export interface PgnOutput {
  headers: Record<string, string>;
  sans: readonly string[];
  /** `1-0`, `0-1`, `1/2-1/2` or `*`; also written as the Result tag. */
  result: string;
}

export function pgnOfGame({ headers, sans, result }: PgnOutput): string {
  const tags: Record<string, string> = { Event: '?', Site: '?', Date: '????.??.??', Round: '?', White: '?', Black: '?', ...headers, Result: result };
  const names = [...SEVEN_TAG_ROSTER, ...Object.keys(tags).filter((name) => !SEVEN_TAG_ROSTER.includes(name))];
  const lines = names.map((name) => `[${name} "${tags[name].replace(/(["\\])/g, '\\$1')}"]`);
  lines.push('');
  const words: string[] = [];
  sans.forEach((san, ply) => words.push(ply % 2 === 0 ? `${ply / 2 + 1}. ${san}` : san));
  words.push(result);
  let current = '';
  for (const word of words) {
    if (current !== '' && current.length + 1 + word.length > 80) {
      lines.push(current);
      current = word;
    } else {
      current = current === '' ? word : `${current} ${word}`;
    }
  }
  lines.push(current);
  return lines.join('\n') + '\n';
}
