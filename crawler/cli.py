"""`fediscope`: a thin click shell; each command calls the library function of the same name.

Bad input (unknown flags, a missing or non-SQLite database, an invalid or unreachable seed) is
reported as one line on stderr with exit status 2, never a traceback.
"""

from __future__ import annotations

import sys
from datetime import timedelta

import click

from crawler import __version__
from crawler.cli_answers import echo_answer, json_option, print_query
from crawler.database_paths import (
    DEFAULT_DB,
    existing_database,
    fail,
    writable_database,
)

db_option = click.option(
    "--db",
    default=DEFAULT_DB,
    show_default=True,
    metavar="PATH",
    help="SQLite database file.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="fediscope")
def cli() -> None:
    """fediscope: crawl the Fediverse into SQLite, analyse it, and serve it with Datasette."""


@cli.command()
@db_option
@click.option("--seed", "seeds", multiple=True, metavar="DOMAIN", help="Start here (repeatable).")
@click.option(
    "--seed-file",
    type=click.Path(exists=True, dir_okay=False),
    help="One domain per line, or CSV with a domain column.",
)
@click.option(
    "--max-instances", type=click.IntRange(min=1), help="Visit at most N domains in this run."
)
@click.option(
    "--concurrency",
    default=64,
    show_default=True,
    type=click.IntRange(min=1, max=4096),
    help="Requests in flight across all hosts.",
)
@click.option(
    "--per-address",
    default=4,
    show_default=True,
    type=click.IntRange(min=1, max=64),
    help="Requests in flight per server address (hosts sharing a provider's address).",
)
@click.option(
    "--via",
    metavar="HOST:PORT",
    help="Send every request to this address with the real Host header (sandbox).",
)
@click.option(
    "--contact",
    metavar="TEXT",
    help="Your e-mail or URL, sent in the User-Agent (required on the real network).",
)
@click.option(
    "--exclude-file",
    type=click.Path(exists=True, dir_okay=False),
    help="Domains (and their subdomains) never to crawl.",
)
@click.option(
    "--min-gap",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0.0),
    help="Seconds between two requests to the same host.",
)
@click.option(
    "--burst",
    default=3,
    show_default=True,
    type=click.IntRange(min=1, max=10),
    help="First requests of a visit sent back to back before --min-gap applies (1: none; "
    "never with a robots.txt Crawl-delay).",
)
@click.option(
    "--full-every",
    default=7,
    show_default=True,
    type=click.IntRange(min=1),
    help="Visit each server in full every N crawls: lists that only grow (Misskey's instances) "
    "read to their end, NodeInfo found through its discovery document. In between, lists are "
    "read newest first and NodeInfo where it was last time.",
)
@click.option(
    "--max-crawl-delay",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=0.0),
    help="Skip hosts whose robots.txt Crawl-delay is longer.",
)
@click.option(
    "--timeout",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Total seconds per request.",
)
@click.option(
    "--recrawl-after",
    default=20.0,
    show_default=True,
    type=click.FloatRange(min=0.0),
    help="Hours before an alive instance is due again.",
)
@click.option(
    "--subdomain-cap",
    default=50,
    show_default=True,
    type=click.IntRange(min=1),
    help="Hosts of one registrable domain queued per crawl.",
)
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option(
    "--no-conditional",
    is_flag=True,
    help="Download every list in full (no If-None-Match / If-Modified-Since).",
)
@click.option(
    "--revalidate",
    is_flag=True,
    help="Ask again even for a robots.txt read less than a day ago and answers their server "
    "said are still fresh (Cache-Control), which are otherwise reused.",
)
@click.option(
    "--no-uvloop", is_flag=True, help="Use asyncio's own event loop even if uvloop is installed."
)
@click.option(
    "--no-adapt",
    is_flag=True,
    help="Keep --concurrency even when fediscope itself is overloaded, and never retry a "
    "timed-out server in the same crawl.",
)
def crawl(
    db: str,
    seeds: tuple[str, ...],
    seed_file: str | None,
    max_instances: int | None,
    concurrency: int,
    per_address: int,
    via: str | None,
    contact: str | None,
    exclude_file: str | None,
    min_gap: float,
    burst: int,
    full_every: int,
    max_crawl_delay: float,
    timeout: float,
    recrawl_after: float,
    subdomain_cap: int,
    no_progress: bool,
    no_conditional: bool,
    revalidate: bool,
    no_uvloop: bool,
    no_adapt: bool,
) -> None:
    """Crawl from seeds (and whatever is due in the database)."""
    from crawler.engine import CrawlError, CrawlSettings
    from crawler.engine import crawl as run_crawl
    from crawler.store.lock import DatabaseBusy

    if via is not None:
        _check_via(via)
    elif not contact:
        fail(
            "--contact is required when crawling the real network "
            "(an e-mail or URL where admins can reach you)"
        )
    if contact is not None and (
        not contact.strip() or len(contact) > 200 or not contact.isprintable()
    ):
        fail("--contact must be one printable line of at most 200 characters")
    settings = CrawlSettings(
        db=writable_database(db),
        seeds=list(seeds),
        seed_file=seed_file,
        max_instances=max_instances,
        concurrency=concurrency,
        per_address=per_address,
        conditional=not no_conditional,
        revalidate=revalidate,
        uvloop=False if no_uvloop else None,
        adapt=not no_adapt,
        via=via,
        contact=contact,
        exclude_file=exclude_file,
        min_gap=min_gap,
        burst=burst,
        full_every=full_every,
        max_crawl_delay=max_crawl_delay,
        total_timeout=timeout,
        connect_timeout=min(10.0, timeout),
        read_timeout=min(15.0, timeout),
        recrawl_after=timedelta(hours=recrawl_after),
        subdomain_cap=subdomain_cap,
        progress=not no_progress and sys.stderr.isatty(),
    )
    try:
        summary = run_crawl(settings)
    except (CrawlError, DatabaseBusy) as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        click.echo(
            "\ninterrupted: finished domains are stored; run the same command to resume", err=True
        )
        sys.exit(130)
    for line in summary.lines(concurrency):
        click.echo(line)
    for seed, reason in summary.seed_failures.items():
        click.echo(f"warning: seed {seed} could not be crawled ({reason})", err=True)
    if summary.seed_failures and set(summary.seeds) <= set(summary.seed_failures):
        first = next(iter(summary.seed_failures.items()))
        fail(f"seed {first[0]} is unreachable ({first[1]})")


def _check_via(via: str) -> None:
    host, _, port = via.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        fail(f"--via must be HOST:PORT, got {via!r}")


@cli.command()
@db_option
def analyze(db: str) -> None:
    """Build the derived tables (platform share, graph metrics, block aggregates)."""
    from crawler.store.lock import DatabaseBusy
    from graph.analyze import analyze as run_analyze

    try:
        report = run_analyze(existing_database(db))
    except DatabaseBusy as exc:
        fail(str(exc))
    for line in report.lines():
        click.echo(line)


@cli.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8001, show_default=True, type=click.IntRange(min=0, max=65535))
@click.option(
    "--cache-max-age",
    default=300,
    show_default=True,
    type=click.IntRange(min=0),
    help="Seconds browsers and proxies may keep a page (0: revalidate every time).",
)
def serve(db: str, host: str, port: int, cache_max_age: int) -> None:
    """Serve the database with Datasette (metadata, charts and canned queries from data/)."""
    from crawler.serve import PortInUse
    from crawler.serve import serve as run_serve

    try:
        run_serve(existing_database(db), host=host, port=port, cache_max_age=cache_max_age)
    except PortInUse as exc:
        fail(f"{exc}: stop the program using it or pick another with --port")


@cli.command("who-blocks")
@click.argument("domain")
@db_option
@json_option
def who_blocks(domain: str, db: str, as_json: bool) -> None:
    """Every instance that blocks DOMAIN, with severity, reason and the coverage behind it."""
    from observatory.who_blocks import InvalidQuery, answer, format_answer

    print_query(
        db, as_json, lambda connection: answer(connection, domain), format_answer, (InvalidQuery,)
    )


@cli.command()
@click.argument("domain")
@db_option
@json_option
def reach(domain: str, db: str, as_json: bool) -> None:
    """Who can see DOMAIN's posts: servers that federate with it, by platform, next to those
    that suspend it, and what cannot be known."""
    from observatory.reach import format_answer
    from observatory.reach import reach as run_reach
    from observatory.who_blocks import InvalidQuery

    print_query(
        db,
        as_json,
        lambda connection: run_reach(connection, domain),
        format_answer,
        (InvalidQuery,),
    )


@cli.command()
@db_option
@json_option
def summary(db: str, as_json: bool) -> None:
    """The database at a glance: crawl date, servers, users, platforms, block-list coverage."""
    from observatory.summary import format_summary
    from observatory.summary import summary as run_summary

    print_query(db, as_json, run_summary, format_summary)


@cli.command()
@click.argument("domain")
@db_option
@json_option
def profile(domain: str, db: str, as_json: bool) -> None:
    """One server: status, software, users per crawl, peers, blocks, raw answers."""
    from observatory.profile import format_profile
    from observatory.profile import profile as run_profile
    from observatory.who_blocks import InvalidQuery

    print_query(
        db,
        as_json,
        lambda connection: run_profile(connection, domain),
        format_profile,
        (InvalidQuery,),
    )


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(min=0, max=65535))
@click.option("--instances", default=1000, show_default=True, type=click.IntRange(min=10))
@click.option("--seed", default=1, show_default=True, type=int, help="Random seed of the world.")
@click.option(
    "--truth",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the ground truth (JSON) here.",
)
@click.option("--hostile", is_flag=True, help="Also serve the hostile hosts (*.hostile.test).")
@click.option(
    "--epoch",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Serve the world as it is after this many rounds of change (blocks, peers, users).",
)
def sandbox(
    host: str, port: int, instances: int, seed: int, truth: str | None, hostile: bool, epoch: int
) -> None:
    """Serve a synthetic Fediverse on one loopback port (crawl it with --via HOST:PORT)."""
    from crawler.sandbox import SandboxConfig, run_forever

    config = SandboxConfig(seed=seed, instances=instances, hostile=hostile)
    run_forever(config, host, port, truth, epoch)


@cli.command()
@click.option("--instances", default=1000, show_default=True, type=click.IntRange(min=10))
@click.option("--seed", default=1, show_default=True, type=int, help="Random seed of the world.")
@click.option("--db", default="data/demo.db", show_default=True, metavar="PATH")
@click.option("--port", default=8001, show_default=True, type=click.IntRange(min=0, max=65535))
@click.option("--no-serve", is_flag=True, help="Stop after the analysis.")
@click.option(
    "--crawls",
    default=2,
    show_default=True,
    type=click.IntRange(min=1, max=10),
    help="Crawl this many epochs of the changing world, so the database has a history.",
)
@click.option(
    "--quick",
    is_flag=True,
    help="The sandbox's servers ask for 1/100 of their Crawl-delay and Retry-After, and the crawl "
    "keeps 0.02 s between requests to a host and gives up on one after 5 s: the same database "
    "without the polite waits.",
)
def demo(
    instances: int, seed: int, db: str, port: int, no_serve: bool, crawls: int, quick: bool
) -> None:
    """Sandbox + crawl + analyze + serve, all on loopback, in one command."""
    from crawler.demo import demo as run_demo
    from crawler.serve import PortInUse, check_port

    if not no_serve:
        try:
            check_port("127.0.0.1", port)
        except PortInUse as exc:
            fail(f"{exc}: stop the program using it, pick another with --port, or use --no-serve")
    run_demo(
        instances=instances,
        seed=seed,
        db=db,
        port=port,
        serve=not no_serve,
        crawls=crawls,
        quick=quick,
    )


@cli.command()
@db_option
@click.option(
    "--format", "fmt", required=True, type=click.Choice(["parquet", "csv", "gexf", "graphml"])
)
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option(
    "--crawl",
    type=click.IntRange(min=1),
    metavar="N",
    help="Parquet: add only crawl N's partitions to the dataset.",
)
def export(db: str, fmt: str, out: str, crawl: int | None) -> None:
    """Export tables and graphs; Parquet is a dataset that grows crawl by crawl."""
    from observatory.export import ExportError
    from observatory.export import export as run_export

    try:
        lines = run_export(existing_database(db), fmt, out, crawl)
    except ExportError as exc:
        fail(str(exc))
    for line in lines:
        click.echo(line)


@cli.command("verify-dataset")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
def verify_dataset(directory: str) -> None:
    """Re-check a Parquet dataset's files against the SHA-256 sums in its manifest."""
    from observatory.manifest import verify_dataset as run_verify

    check = run_verify(directory)
    if not check.ok:
        for line in check.problems[1:]:
            click.echo(f"fediscope: error: {line}", err=True)
        fail(check.problems[0])
    for line in check.lines():
        click.echo(line)


@cli.command()
@db_option
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output folder.")
def charts(db: str, out: str) -> None:
    """Write every /platforms chart as SVG and PNG, its data as CSV, and SOURCES.md."""
    from observatory.chart_export import charts as run_charts

    for file in run_charts(existing_database(db), out):
        click.echo(file)


@cli.command()
@db_option
@json_option
def blocklists(db: str, as_json: bool) -> None:
    """Imported shared block lists: how many servers publish each, overlap, adopters."""
    from observatory.blocklists import blocklists as run_blocklists
    from observatory.blocklists import format_blocklists

    echo_answer(run_blocklists(existing_database(db)), as_json, format_blocklists)


@cli.command("import-blocklist")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--source", required=True, metavar="NAME", help="Name of this shared block list.")
@db_option
def import_blocklist(file: str, source: str, db: str) -> None:
    """Import a shared block list (Mastodon CSV export format) as a named source."""
    from crawler.importer import BlocklistImportError
    from crawler.importer import import_blocklist as run_import

    try:
        result = run_import(writable_database(db), file, source)
    except BlocklistImportError as exc:
        fail(str(exc))
    click.echo(
        f"imported {result.rows} rules from {file} as source {source!r}"
        f" ({result.skipped} rows skipped)"
    )


@cli.command("import-asn")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@db_option
def import_asn(file: str, db: str) -> None:
    """Import an IP-to-AS table for hosting by network.

    FILE is the iptoasn.com TSV (ip2asn-combined.tsv, plain or .gz); nothing is downloaded."""
    from crawler.asn import AsnImportError
    from crawler.asn import import_asn as run_import

    try:
        table = run_import(writable_database(db), file)
    except AsnImportError as exc:
        fail(str(exc))
    skipped = ", ".join(f"{n} {why}" for why, n in table.skipped.most_common())
    click.echo(
        f"imported {len(table.ranges):,} address ranges from {file}"
        f" ({table.skipped_rows:,} rows skipped{': ' + skipped if skipped else ''});"
        " run `fediscope analyze` to group servers by network"
    )


@cli.command()
@db_option
@json_option
@click.option(
    "--top", default=20, show_default=True, type=click.IntRange(min=0), help="Languages shown."
)
def languages(db: str, as_json: bool, top: int) -> None:
    """Servers, users and active users by declared language.

    The latest analysed crawl; a server declaring several languages counts for each."""
    from graph.derived import NotAnalysed
    from observatory.languages import format_languages
    from observatory.languages import languages as run_languages

    print_query(
        db,
        as_json,
        lambda connection: run_languages(connection, top),
        format_languages,
        (NotAnalysed,),
    )


@cli.command()
@db_option
@json_option
@click.option(
    "--by",
    type=click.Choice(["address", "prefix", "network"]),
    help="Group by address, /24-/48 prefix or AS network [default: network once an AS table "
    "is imported, else prefix].",
)
@click.option(
    "--top", default=15, show_default=True, type=click.IntRange(min=0), help="Hosts shown."
)
def hosting(db: str, as_json: bool, by: str | None, top: int) -> None:
    """How few networks host the servers and their active users.

    The latest analysed crawl, by address, /24 or /48 prefix, or AS network."""
    from graph.derived import NotAnalysed
    from observatory.hosting import format_hosting
    from observatory.hosting import hosting as run_hosting

    print_query(
        db,
        as_json,
        lambda connection: run_hosting(connection, by, top),
        format_hosting,
        (NotAnalysed, ValueError),
    )


def main() -> None:
    """Entry point: click without its multi-line usage errors or tracebacks."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.format_message() if hasattr(exc, "format_message") else str(exc))
        sys.exit(0)
    except click.UsageError as exc:
        hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx else ""
        click.echo(f"fediscope: error: {exc.format_message()}{hint}", err=True)
        sys.exit(2)
    except click.ClickException as exc:
        click.echo(f"fediscope: error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        sys.exit(130)
