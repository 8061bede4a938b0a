import { applicationNameOf } from '#shared/domain/app-key.ts';
import type { StartOptions } from '#shared/domain/decision.ts';
import type { ApplicationOperation, ApplicationSnapshot, ApplicationState } from '#shared/domain/model.ts';
import { type ApplicationSummary, type ApplicationUpdate, MsfApiError, type MsfPort } from '#shared/ports/msf.ts';
import { type Cell, CellNotWatchedError, cellId, type FleetCells } from './accounts.ts';

/**
 * An MsfPort over every watched cell (account × Region), addressed by APPLICATION KEY (shared/domain/app-key.ts).
 *
 * Each call goes to the MsfPort of the key's cell with the bare MSF ApplicationName, and what comes back names the
 * application by its key again: `ApplicationState.name` and `ApplicationSummary.name` are keys; ARNs stay exactly as
 * MSF returns them (they carry the account and Region themselves). `listTags` is routed by the ARN's account and
 * Region. Mutating calls are routed the same way (in a member account they run under the assumed member role, which
 * allows them only on applications carrying the opt-in tag).
 *
 * Errors: a key (or ARN) of a cell that is not watched is refused with an {@link MsfApiError} whose `code` is
 * `CellNotWatched` and whose cause is the {@link CellNotWatchedError} (naming the fix), before any call; an MsfApiError
 * of the cell's adapter is thrown again naming the key instead of the bare name, with the same `operation`, `code`
 * and `cause` (so retry and no-answer checks see the SDK error as before).
 */
export class RoutedMsf implements MsfPort {
  readonly #cells: FleetCells;
  readonly #msfIn: (cell: Cell) => MsfPort;
  readonly #ports = new Map<string, MsfPort>();

  /**
   * @param cells the watched cells.
   * @param msfIn the MsfPort of one cell (called once per cell, then kept), e.g. an MsfAdapter on the cell's client.
   */
  constructor(cells: FleetCells, msfIn: (cell: Cell) => MsfPort) {
    this.#cells = cells;
    this.#msfIn = msfIn;
  }

  /**
   * ListApplications in every watched cell (each cell every page; the cells at once): the home cell's applications
   * first, then each member cell's in `fleet.accounts` order, each summary's `name` being the application KEY.
   * @throws MsfApiError of the first cell that fails (the cell is named in the message).
   */
  async listApplications(): Promise<ApplicationSummary[]> {
    const perCell = await Promise.all(this.#cells.cells().map((cell) => this.listApplicationsIn(cell)));
    return perCell.flat();
  }

  /**
   * ListApplications in one cell, every page; `name` is the application key.
   * @throws MsfApiError (code `CellNotWatched` when the cell is not watched).
   */
  async listApplicationsIn(cell: Cell): Promise<ApplicationSummary[]> {
    const where = this.#cells.isHome(cell) ? '*' : `*@${cell.accountId}.${cell.region}`;
    const port = this.#portOf(where, 'ListApplications', () => this.#cellChecked(cell));
    const summaries = await this.#rethrow(where, () => port.listApplications());
    return summaries.map((s) => ({ ...s, name: this.#cells.keyOf(cell, s.name) }));
  }

  async describeApplication(key: string): Promise<ApplicationState> {
    const { port, name, cell } = this.#route(key, 'DescribeApplication');
    const state = await this.#rethrow(key, () => port.describeApplication(name));
    return { ...state, name: this.#cells.keyOf(cell, state.name || name) };
  }

  async describeApplicationVersion(key: string, versionId: number): Promise<ApplicationState> {
    const { port, name, cell } = this.#route(key, 'DescribeApplicationVersion');
    const state = await this.#rethrow(key, () => port.describeApplicationVersion(name, versionId));
    return { ...state, name: this.#cells.keyOf(cell, state.name || name) };
  }

  async listOperations(key: string): Promise<ApplicationOperation[]> {
    const { port, name } = this.#route(key, 'ListApplicationOperations');
    return this.#rethrow(key, () => port.listOperations(name));
  }

  async describeOperation(key: string, operationId: string): Promise<ApplicationOperation> {
    const { port, name } = this.#route(key, 'DescribeApplicationOperation');
    return this.#rethrow(key, () => port.describeOperation(name, operationId));
  }

  async listSnapshots(key: string): Promise<ApplicationSnapshot[]> {
    const { port, name } = this.#route(key, 'ListApplicationSnapshots');
    return this.#rethrow(key, () => port.listSnapshots(name));
  }

  /** ListTagsForResource, in the account and Region of the ARN (an ARN MSF returned, e.g. `ApplicationState.arn`). */
  async listTags(applicationArn: string): Promise<Record<string, string>> {
    const port = this.#portOf(applicationArn, 'ListTagsForResource', () => this.#cells.cellOfArn(applicationArn));
    return port.listTags(applicationArn);
  }

  async startApplication(key: string, start: StartOptions): Promise<{ operationId?: string }> {
    const { port, name } = this.#route(key, 'StartApplication');
    return this.#rethrow(key, () => port.startApplication(name, start));
  }

  async stopApplication(key: string, force: boolean): Promise<{ operationId?: string }> {
    const { port, name } = this.#route(key, 'StopApplication');
    return this.#rethrow(key, () => port.stopApplication(name, force));
  }

  async rollbackApplication(key: string, currentVersionId: number): Promise<{ operationId?: string }> {
    const { port, name } = this.#route(key, 'RollbackApplication');
    return this.#rethrow(key, () => port.rollbackApplication(name, currentVersionId));
  }

  async createApplicationSnapshot(key: string, snapshotName: string): Promise<void> {
    const { port, name } = this.#route(key, 'CreateApplicationSnapshot');
    return this.#rethrow(key, () => port.createApplicationSnapshot(name, snapshotName));
  }

  async updateApplication(
    key: string,
    update: ApplicationUpdate,
  ): Promise<{ operationId?: string; versionId?: number }> {
    const { port, name } = this.#route(key, 'UpdateApplication');
    return this.#rethrow(key, () => port.updateApplication(name, update));
  }

  #route(key: string, operation: string): { port: MsfPort; name: string; cell: Cell } {
    let cell: Cell | undefined;
    const port = this.#portOf(key, operation, () => {
      cell = this.#cells.cellOf(key);
      return cell;
    });
    return { port, name: applicationNameOf(key), cell: cell as Cell };
  }

  #cellChecked(cell: Cell): Cell {
    if (!this.#cells.cells().some((c) => cellId(c) === cellId(cell))) {
      throw new CellNotWatchedError(cellId(cell), cell.accountId, cell.region);
    }
    return cell;
  }

  /** The cell's port; a cell that is not watched becomes an MsfApiError (code CellNotWatched) naming `named`. */
  #portOf(named: string, operation: string, resolve: () => Cell): MsfPort {
    let cell: Cell;
    try {
      cell = resolve();
    } catch (e) {
      if (e instanceof CellNotWatchedError) {
        throw new MsfApiError(named, operation, 'CellNotWatched', e.message, { cause: e });
      }
      throw e;
    }
    const id = cellId(cell);
    let port = this.#ports.get(id);
    if (!port) {
      port = this.#msfIn(cell);
      this.#ports.set(id, port);
    }
    return port;
  }

  /** Runs a cell's call; its MsfApiError is thrown again naming the key. */
  async #rethrow<T>(key: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (e) {
      if (!(e instanceof MsfApiError) || e.applicationName === key) throw e;
      const prefix = `${e.operation} ${e.applicationName}: ${e.code}: `;
      const message = e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message;
      throw new MsfApiError(key, e.operation, e.code, message, { cause: e.cause ?? e });
    }
  }
}
