//! `duty admin …`: the store's care — backups.

use std::path::PathBuf;

use clap::Subcommand;
use dutyroom_daemon::store::backup::{Piece, Restore, Restored};
use dutyroom_proto::v1 as pb;

use super::{CliError, Ctx};

/// `duty admin …`.
#[derive(Debug, Subcommand)]
pub enum AdminCmd {
    /// A consistent copy of the whole store, taken while dutyd keeps
    /// working, written into DIR (a new directory) as a store dutyd can
    /// start on. Starting dutyd on it is a restore: see docs/operations.md.
    Backup {
        /// Where the copy goes (must not exist, or be empty).
        dir: PathBuf,
    },
}

/// Runs an admin command.
pub async fn run(ctx: &mut Ctx<'_>, cmd: AdminCmd) -> Result<(), CliError> {
    match cmd {
        AdminCmd::Backup { dir } => backup(ctx, dir).await,
    }
}

/// Takes the backup stream into `restore`; what it holds once complete.
async fn receive(ctx: &mut Ctx<'_>, restore: &mut Restore) -> Result<Restored, CliError> {
    let incomplete =
        |error: &dyn std::fmt::Display| CliError::Other(format!("backup failed: {error}"));
    let mut stream = ctx
        .client
        .journal()
        .max_decoding_message_size(64 << 20)
        .backup(pb::BackupRequest {})
        .await?
        .into_inner();
    while let Some(chunk) = stream.message().await? {
        let piece = piece(chunk).map_err(|e| incomplete(&e))?;
        if let Some(restored) = restore.take(piece).map_err(|e| incomplete(&e))? {
            return Ok(restored);
        }
    }
    Err(incomplete(&"the stream ended before its last piece"))
}

fn piece(chunk: pb::BackupChunk) -> Result<Piece, CliError> {
    use pb::backup_chunk::Item;
    Ok(match chunk.item {
        Some(Item::Start(start)) => Piece::Start {
            store_id: start.store_id,
            from_lsn: start.from_lsn,
        },
        Some(Item::Pairs(pairs)) => {
            if pairs.keys.len() != pairs.values.len() {
                return Err(CliError::Other(
                    "the backup stream sent keys without their values".into(),
                ));
            }
            Piece::Pairs(pairs.keys.into_iter().zip(pairs.values).collect())
        }
        Some(Item::Segment(segment)) => Piece::Segment {
            first_lsn: segment.first_lsn,
            archived: segment.archived,
            offset: segment.offset,
            bytes: segment.bytes,
        },
        Some(Item::End(end)) => Piece::End { lsn: end.lsn },
        None => {
            return Err(CliError::Other(
                "the backup stream sent an empty piece".into(),
            ));
        }
    })
}

async fn backup(ctx: &mut Ctx<'_>, dir: PathBuf) -> Result<(), CliError> {
    let existed = dir.exists();
    let mut restore = Restore::create(&dir).map_err(|e| CliError::Other(e.to_string()))?;
    let taken = receive(ctx, &mut restore).await;
    drop(restore);
    let restored = match taken {
        Ok(restored) => restored,
        Err(error) => {
            // Leave nothing that looks like a backup.
            let _ = std::fs::remove_dir_all(&dir);
            if existed {
                let _ = std::fs::create_dir(&dir);
            }
            return Err(error);
        }
    };
    if ctx.json() {
        let value = serde_json::json!({
            "dir": dir.display().to_string(),
            "head_seq": restored.head_seq,
            "lsn": restored.lsn,
            "bytes": restored.bytes,
        });
        serde_json::to_writer(&mut *ctx.out, &value).map_err(|e| CliError::Other(e.to_string()))?;
        writeln!(ctx.out)?;
    } else {
        writeln!(
            ctx.out,
            "Backup of journal seq {} written to {} ({:.1} MiB). To restore: stop dutyd, \
             start it with --data on a copy of this directory (a new epoch: clients resync).",
            restored.head_seq,
            dir.display(),
            restored.bytes as f64 / (1 << 20) as f64
        )?;
    }
    Ok(())
}
