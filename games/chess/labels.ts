/**
 * Board labels for chess probes: at every `.` of a game string (the position before White's move of
 * that number, White to move), the 64 squares in 13 classes relative to the side to move: 0 empty,
 * 1..6 White's (mine) pawn, knight, bishop, rook, queen, king, 7..12 Black's (theirs) in the same order.
 * Square index = rank * 8 + file with a1 = 0, h1 = 7, h8 = 63.
 */
import { Chess } from 'chess.js';
import { movesOfGameString } from './game-string.js';
import { playSan } from './san.js';

export const CHESS_LABEL_CLASSES = 13;
export const CHESS_LABEL_NAMES = ['empty', 'my pawn', 'my knight', 'my bishop', 'my rook', 'my queen', 'my king',
  'their pawn', 'their knight', 'their bishop', 'their rook', 'their queen', 'their king'] as const;

const PIECE_ORDER = 'pnbrqk';

export interface ChessBoardLabels {
  /** Character index of each `.` in the game string (the model position the labels pair with). */
  positions: number[];
  /** (positions.length, 64) classes 0..12. */
  labels: Uint8Array;
}

/** Labels at each `.` of `text`; throws a RangeError on a malformed string or an illegal move. */
export function chessBoardLabels(text: string): ChessBoardLabels {
  const sans = movesOfGameString(text);
  const positions: number[] = [];
  for (let i = 0; i < text.length; i++) if (text[i] === '.') positions.push(i);
  const labels = new Uint8Array(positions.length * 64);
  const chess = new Chess();
  for (let k = 0; k < positions.length; k++) {
    // Before the k-th `.`, 2k plies have been played.
    if (k > 0) {
      for (const ply of [2 * k - 2, 2 * k - 1]) {
        const move = playSan(chess, sans[ply]);
        if (typeof move === 'string') throw new RangeError(`ply ${ply + 1} (${sans[ply]}): ${move}`);
      }
    }
    writeSideToMoveLabels(chess, labels, k * 64);
  }
  return { positions, labels };
}

/** 64 classes for the position on `chess`, "mine" being the side to move. */
export function writeSideToMoveLabels(chess: Chess, out: Uint8Array, offset: number): void {
  const mover = chess.turn();
  // board()[0] is rank 8, board()[7] rank 1; each row runs a..h.
  const rows = chess.board();
  for (let r = 0; r < 8; r++) {
    const rank = 7 - r;
    for (let file = 0; file < 8; file++) {
      const piece = rows[r][file];
      out[offset + rank * 8 + file] = piece ? 1 + PIECE_ORDER.indexOf(piece.type) + (piece.color === mover ? 0 : 6) : 0;
    }
  }
}
