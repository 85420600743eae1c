/**
 * A person as the model's opponent (`gamba play --opponent human`): the board on the terminal (stderr,
 * so stdout keeps only the summary), a move typed in the game's own notation (Othello squares like
 * `d3`, chess SAN like `Nf3`), an illegal one refused with the reason, and `resign` or `quit` (resign
 * this game and end the match; end of input does the same). The match saves the game either way.
 */
import { createInterface, type Interface } from 'node:readline';
import { Chess } from 'chess.js';
import { playSan, playUci, uciOfMove } from '../../games/chess/san.js';
import type { SearchLimit, SearchResult } from '../../games/chess/uci.js';
import { BLACK, EMPTY_CELL, OthelloBoard } from '../../games/othello/board.js';
import { squareName } from '../../games/othello/notation.js';

export type HumanAnswer<M> = M | 'resign' | 'quit';

const REASONS: Record<string, string> = {
  unparsable: 'not a move in SAN (e.g. e4, Nf3, exd5, O-O, e8=Q)',
  'illegal-move': 'not a legal move in this position',
  'nonstandard-notation': 'legal, but not written as SAN writes it',
  'null-move': 'a null move is not a move',
};

export class HumanSeat {
  private readonly lines: Interface;
  private readonly pending: string[] = [];
  private waiting: ((line: string | null) => void) | null = null;
  private ended = false;
  /** Set by `quit` (or the end of input): the match stops after this game. */
  quitRequested = false;

  constructor(
    input: NodeJS.ReadableStream = process.stdin,
    private readonly output: NodeJS.WritableStream = process.stderr,
  ) {
    this.lines = createInterface({ input, terminal: false });
    this.lines.on('line', (line) => this.deliver(line));
    this.lines.on('close', () => {
      this.ended = true;
      this.deliver(null);
    });
  }

  say(text: string): void {
    this.output.write(text + '\n');
  }

  /** The next line typed (trimmed, lower case kept), or null once the input has ended. */
  private async ask(prompt: string): Promise<string | null> {
    this.output.write(prompt);
    if (this.pending.length > 0) return this.pending.shift()!;
    if (this.ended) return null;
    return new Promise((resolve) => (this.waiting = resolve));
  }

  private deliver(line: string | null): void {
    const waiting = this.waiting;
    if (waiting) {
      this.waiting = null;
      waiting(line === null ? null : line.trim());
    } else if (line !== null) {
      this.pending.push(line.trim());
    }
  }

  /** Asks until the answer is a move `parse` accepts, or resign/quit; `parse` returns the move or why not. */
  private async askMove<M>(prompt: string, parse: (text: string) => { move: M } | string): Promise<HumanAnswer<M>> {
    for (;;) {
      const text = await this.ask(prompt);
      if (text === null || text.toLowerCase() === 'quit') {
        this.quitRequested = true;
        return 'quit';
      }
      if (text.toLowerCase() === 'resign') return 'resign';
      if (text === '') continue;
      const parsed = parse(text);
      if (typeof parsed !== 'string') return parsed.move;
      this.say(`${text}: ${parsed}`);
    }
  }

  /** The person's Othello move for the side to move: a square, or resign/quit. */
  async othelloMove(board: OthelloBoard, moves: number[]): Promise<HumanAnswer<number>> {
    const you = board.toMove === BLACK ? 'black (X)' : 'white (O)';
    this.say(`\n${othelloDiagram(board)}\n${moves.length > 0 ? `last move ${squareName(moves[moves.length - 1])}; ` : ''}you play ${you}; legal: ${board.legalMoves().map(squareName).join(' ')}`);
    return this.askMove('your move (a square like d3; resign, quit): ', (text) => {
      const match = /^([a-h])([1-8])$/i.exec(text);
      if (!match) return 'not a square (a column a-h and a row 1-8, e.g. d3)';
      const square = (Number(match[2]) - 1) * 8 + match[1].toLowerCase().charCodeAt(0) - 97;
      if (board.cellAt(square) !== EMPTY_CELL) return `${squareName(square)} is occupied`;
      if (!board.isLegal(square)) return `${squareName(square)} flips no disc (legal: ${board.legalMoves().map(squareName).join(' ')})`;
      return { move: square };
    });
  }

  /** The person as a chess opponent with the engine's interface: bestMove asks for a SAN move. */
  chessOpponent(): HumanChessOpponent {
    return new HumanChessOpponent(this);
  }

  /** The person's chess move in the position after `ucis`: UCI, or resign/quit. */
  async chessMove(ucis: readonly string[]): Promise<HumanAnswer<string>> {
    const chess = new Chess();
    let last = '';
    for (const uci of ucis) last = playUci(chess, uci)!.san;
    this.say(`\n${chess.ascii()}\n${last ? `last move ${last}; ` : ''}you play ${chess.turn() === 'w' ? 'White' : 'Black'}${chess.inCheck() ? ', in check' : ''}`);
    return this.askMove('your move (SAN like e4 or Nf3; resign, quit): ', (text) => {
      const move = playSan(chess, text);
      if (typeof move === 'string') return REASONS[move] ?? move;
      chess.undo();
      return { move: uciOfMove(move) };
    });
  }

  close(): void {
    this.lines.close();
  }
}

/** What playChessGame asks of its opponent, answered by the person. */
export class HumanChessOpponent {
  readonly label = 'human';
  readonly name = 'human';

  constructor(private readonly seat: HumanSeat) {}

  async newGame(): Promise<void> {}

  async bestMove(ucis: readonly string[], _limit: SearchLimit): Promise<SearchResult & { resigned?: boolean }> {
    const started = performance.now();
    const answer = await this.seat.chessMove(ucis);
    const wallMs = performance.now() - started;
    if (answer === 'resign' || answer === 'quit') return { move: null, resigned: true, nodes: 0, nps: 0, depth: 0, wallMs };
    return { move: answer, nodes: 0, nps: 0, depth: 0, wallMs };
  }
}

/** The board with coordinates, a1 top-left as the square indices run: X black, O white. */
export function othelloDiagram(board: OthelloBoard): string {
  const rows = ['   a b c d e f g h'];
  for (let row = 0; row < 8; row++) {
    const cells = Array.from({ length: 8 }, (_, col) => '.XO'[board.cellAt(row * 8 + col)]);
    rows.push(`${row + 1}  ${cells.join(' ')}`);
  }
  const { black, white } = board.counts();
  rows.push(`X ${black}, O ${white}`);
  return rows.join('\n');
}
