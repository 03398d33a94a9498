//! Sorts a UCI clickstream CSV by session within a memory limit, spilling to disk: what
//! `score` would need of DataFusion to group shuffled rows.
use datafusion::execution::disk_manager::DiskManagerBuilder;
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::*;
use futures::StreamExt;
use std::sync::Arc;

#[tokio::main]
async fn main() -> datafusion::error::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_pool(Arc::new(FairSpillPool::new(64 << 20)))
        .with_disk_manager_builder(DiskManagerBuilder::default())
        .build_arc()?;
    let ctx = SessionContext::new_with_config_rt(SessionConfig::new(), runtime);
    let df = ctx
        .read_csv(&args[1], CsvReadOptions::new().delimiter(b';'))
        .await?
        .sort(vec![
            ident("session ID").sort(true, false),
            ident("order").sort(true, false),
        ])?;
    let mut stream = df.execute_stream().await?;
    let mut rows = 0;
    while let Some(batch) = stream.next().await {
        rows += batch?.num_rows();
    }
    println!("{rows} rows in session order");
    Ok(())
}
