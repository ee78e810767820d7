package steam_platform.lake;

import java.io.Serializable;
import org.apache.hadoop.mapreduce.JobContext;
import org.apache.hadoop.mapreduce.TaskAttemptContext;
import org.apache.spark.internal.io.FileCommitProtocol;
import org.apache.spark.internal.io.FileNameSpec;
import org.apache.spark.sql.execution.datasources.SQLHadoopMapReduceCommitProtocol;
import scala.Option;
import scala.collection.immutable.Seq;

/**
 * Bronze's commit protocol for a whole query: appends in place ({@link DirectAppendCommitProtocol}),
 * a dynamic partition overwrite (the replay of a batch that may have run) through Spark's own
 * protocol, whose staging folder is what replaces partitions.
 *
 * <p>For a query whose writes cannot choose their protocol one by one: on a Spark Connect server,
 * bronze's {@code foreachBatch} runs in the server's Python worker, and a setting it makes reaches
 * the client's session, not the query's copy of it. So the run sets this class on its session
 * before the query starts (the query's copy keeps it) and every write of the query picks the right
 * protocol by what it is ({@code streaming/bronze.py}).
 */
public final class BronzeQueryCommitProtocol extends FileCommitProtocol implements Serializable {
  private static final long serialVersionUID = 1L;

  private final FileCommitProtocol delegate;

  public BronzeQueryCommitProtocol(String jobId, String path, boolean dynamicPartitionOverwrite) {
    this.delegate =
        dynamicPartitionOverwrite
            ? new SQLHadoopMapReduceCommitProtocol(jobId, path, true)
            : new DirectAppendCommitProtocol(jobId, path, false);
  }

  @Override
  public void setupJob(JobContext job) {
    delegate.setupJob(job);
  }

  @Override
  public void commitJob(JobContext job, Seq<TaskCommitMessage> tasks) {
    delegate.commitJob(job, tasks);
  }

  @Override
  public void abortJob(JobContext job) {
    delegate.abortJob(job);
  }

  @Override
  public void setupTask(TaskAttemptContext task) {
    delegate.setupTask(task);
  }

  @Override
  public String newTaskTempFile(TaskAttemptContext task, Option<String> dir, FileNameSpec spec) {
    return delegate.newTaskTempFile(task, dir, spec);
  }

  @Override
  @SuppressWarnings("deprecation")
  public String newTaskTempFile(TaskAttemptContext task, Option<String> dir, String ext) {
    return delegate.newTaskTempFile(task, dir, ext);
  }

  @Override
  public String newTaskTempFileAbsPath(TaskAttemptContext task, String dir, FileNameSpec spec) {
    return delegate.newTaskTempFileAbsPath(task, dir, spec);
  }

  @Override
  @SuppressWarnings("deprecation")
  public String newTaskTempFileAbsPath(TaskAttemptContext task, String dir, String ext) {
    return delegate.newTaskTempFileAbsPath(task, dir, ext);
  }

  @Override
  public TaskCommitMessage commitTask(TaskAttemptContext task) {
    return delegate.commitTask(task);
  }

  @Override
  public void abortTask(TaskAttemptContext task) {
    delegate.abortTask(task);
  }

  @Override
  public boolean deleteWithJob(org.apache.hadoop.fs.FileSystem fs, org.apache.hadoop.fs.Path path, boolean recursive) {
    return delegate.deleteWithJob(fs, path, recursive);
  }

  @Override
  public void onTaskCommit(TaskCommitMessage message) {
    delegate.onTaskCommit(message);
  }
}
