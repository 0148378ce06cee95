/**
 * Which of `revs` are in the revision tree of document `id`. PouchDB's `latest` option throws
 * outside the request (and leaves the database waiting forever) when asked about a revision the
 * tree lacks, so `latest` is only ever asked for revisions this returns.
 */
export async function revsInTree(
  db: { get(id: string, opts: object): Promise<unknown> },
  id: string,
  revs: readonly string[],
): Promise<Set<string>> {
  const found = await db.get(id, { open_revs: [...revs] });
  // A `_local` document has no tree: PouchDB answers with the document itself.
  const list = Array.isArray(found)
    ? (found as Array<{ ok?: { _rev?: string } }>)
    : [{ ok: found as { _rev?: string } }];
  return new Set(
    list.flatMap((r) => (r.ok?._rev !== undefined && revs.includes(r.ok._rev) ? [r.ok._rev] : [])),
  );
}
