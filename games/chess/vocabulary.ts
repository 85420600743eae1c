/**
 * The character vocabulary of the chess anchors (chess_llm_interpretability and the Mamba chess models):
 * 32 characters, ids 0..31 in this order, one character = one token. A game is a string such as
 * `;1.e4 e5 2.Nf3 Nc6` (see game-string.ts) and a training record is a block of 1024 characters that
 * starts with `;1.`.
 */

/** id -> character. */
export const CHESS_CHARS = " #+-.0123456789;=BKNOQRabcdefghx";
export const CHESS_VOCAB_SIZE = 32;
/** Characters per training record (the anchors' context). */
export const CHESS_BLOCK_LENGTH = 1024;

/** ' ' separates moves and also pads a record after the game's last move (see game-string.ts). */
export const SPACE_TOKEN = 0;
export const DOT_TOKEN = CHESS_CHARS.indexOf('.');
export const SEMICOLON_TOKEN = CHESS_CHARS.indexOf(';');

/** character code -> id, -1 for characters outside the vocabulary. */
const ID_OF_CODE = new Int8Array(128).fill(-1);
for (let id = 0; id < CHESS_CHARS.length; id++) ID_OF_CODE[CHESS_CHARS.charCodeAt(id)] = id;

/** The id of one character, or -1 when it is not in the vocabulary. */
export function chessCharId(char: string): number {
  const code = char.charCodeAt(0);
  return char.length === 1 && code < 128 ? ID_OF_CODE[code] : -1;
}

/** Token ids of `text`; throws a RangeError naming the first character outside the vocabulary. */
export function encodeChessText(text: string, out: Uint8Array = new Uint8Array(text.length), offset = 0): Uint8Array {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const id = code < 128 ? ID_OF_CODE[code] : -1;
    if (id < 0) throw new RangeError(`character ${JSON.stringify(text[i])} at ${i} is not in the chess vocabulary`);
    out[offset + i] = id;
  }
  return out;
}

/** The text of token ids (each < 32). */
export function decodeChessTokens(tokens: ArrayLike<number>): string {
  let text = '';
  for (let i = 0; i < tokens.length; i++) {
    const id = tokens[i];
    if (!(id >= 0 && id < CHESS_VOCAB_SIZE)) throw new RangeError(`token ${id} at ${i} is not a chess character id (0..31)`);
    text += CHESS_CHARS[id];
  }
  return text;
}
