/**
 * Chess games as the anchors write them: `;1.e4 e5 2.Nf3 Nc6 3.Bb5` — a `;`, then each White move
 * preceded by its number and a dot (no space after the dot), one space between moves, SAN only, no
 * headers, comments or result.
 *
 * A dataset record is one game in a block of CHESS_BLOCK_LENGTH characters: the game string from its
 * `;1.`, then spaces (token 0) up to the end of the block. A game too long for a block keeps the moves
 * that fit whole (the string never ends inside a move); the importer counts such games as truncated.
 * Because a game string never ends with a space, the padding is exactly the trailing run of spaces,
 * which is how the batches tell it apart from the spaces between moves (manifest `padMode: "trailing"`).
 */
import { Chess } from 'chess.js';
import { playSan } from './san.js';
import { CHESS_BLOCK_LENGTH, SPACE_TOKEN, decodeChessTokens, encodeChessText } from './vocabulary.js';

/** `;1.e4 e5 2.Nf3` from SAN moves. */
export function gameStringOf(sans: readonly string[]): string {
  let text = ';';
  for (let ply = 0; ply < sans.length; ply++) text += plyText(sans, ply);
  return text;
}

/** The characters ply `ply` adds to a game string: `1.e4`, ` e5`, ` 2.Nf3`. */
function plyText(sans: readonly string[], ply: number): string {
  if (ply % 2 === 1) return ' ' + sans[ply];
  return (ply === 0 ? '' : ' ') + `${ply / 2 + 1}.` + sans[ply];
}

/**
 * The SAN moves of a game string. Checks the format (leading `;`, numbers 1, 2, 3... before White's
 * moves, single spaces) but not legality (see replayGameString); throws a RangeError saying what is off.
 */
export function movesOfGameString(text: string): string[] {
  if (!text.startsWith(';')) throw new RangeError(`a chess game string starts with ';', got ${JSON.stringify(text.slice(0, 10))}`);
  if (text === ';') return [];
  const sans: string[] = [];
  const words = text.slice(1).split(' ');
  for (let i = 0; i < words.length; i++) {
    const word = words[i];
    if (i % 2 === 0) {
      const number = `${i / 2 + 1}.`;
      if (!word.startsWith(number) || word.length === number.length) {
        throw new RangeError(`word ${i + 1} of the game string should be move ${number} and a White move, got ${JSON.stringify(word)}`);
      }
      sans.push(word.slice(number.length));
    } else {
      if (word === '' || word.includes('.')) throw new RangeError(`word ${i + 1} of the game string should be a Black move, got ${JSON.stringify(word)}`);
      sans.push(word);
    }
  }
  return sans;
}

/** Replays a game string from the start position; throws a RangeError at the first move that is not legal SAN. */
export function replayGameString(text: string): Chess {
  const chess = new Chess();
  const sans = movesOfGameString(text);
  for (let ply = 0; ply < sans.length; ply++) {
    const result = playSan(chess, sans[ply]);
    if (typeof result === 'string') throw new RangeError(`ply ${ply + 1} (${sans[ply]}): ${result.replace('-', ' ')}`);
  }
  return chess;
}

/**
 * Writes one game as a record at out[offset .. offset+blockLength): its string, cut after the last
 * move that fits whole, then space padding. Returns how many plies were kept.
 */
export function writeGameRecord(sans: readonly string[], out: Uint8Array, offset: number, blockLength = CHESS_BLOCK_LENGTH): number {
  let text = ';';
  let plies = 0;
  for (; plies < sans.length; plies++) {
    const next = plyText(sans, plies);
    if (text.length + next.length > blockLength) break;
    text += next;
  }
  encodeChessText(text, out, offset);
  out.fill(SPACE_TOKEN, offset + text.length, offset + blockLength);
  return plies;
}

/** The game string held by a record (the padding removed). */
export function gameStringOfRecord(record: Uint8Array): string {
  let end = record.length;
  while (end > 0 && record[end - 1] === SPACE_TOKEN) end--;
  return decodeChessTokens(record.subarray(0, end));
}
