package steam_platform.lake;

import java.io.IOException;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.mapreduce.JobContext;
import org.apache.hadoop.mapreduce.TaskAttemptContext;
import org.apache.spark.internal.io.FileCommitProtocol;
import org.apache.spark.internal.io.FileNameSpec;
import scala.Option;
import scala.collection.immutable.Seq;

/**
 * Bronze's commit protocol for an append: every task writes its files straight to their final
 * folder, under names unique to the job, and nothing is moved afterwards.
 *
 * <p>Spark's default protocol writes each file into a staging folder and moves it into place when
 * its task commits (Hadoop's algorithm 2, what bronze used for appends); on S3 a move is a copy and
 * a delete, for every byte landed (about a second per million rows here). Spark's own streaming file
 * sink avoids that by writing in place too, and records the files in a log; bronze needs no log:
 * what a batch wrote is its {@code batch_id=} folders. What a reader can see is what algorithm 2
 * gave: a file appears once complete (S3 shows an object only when its upload finished), and a
 * batch that fails half way leaves the files of its finished tasks, which its replay replaces (the
 * replay of a batch that may have run writes with dynamic partition overwrite, which this protocol
 * refuses: Spark's own protocol does it). A retried task writes the same names again (the name
 * holds the task's number, not its attempt), so a retry never doubles a file; an aborted task
 * deletes the files it opened.
 *
 * <p>Chosen per write by {@code streaming/bronze.py} ({@code spark.sql.sources.commitProtocolClass}
 * on the bronze query's own session); compiled with the envelope parser into the same jar.
 */
public final class DirectAppendCommitProtocol extends FileCommitProtocol implements Serializable {
  private static final long serialVersionUID = 1L;

  private final String jobId;
  private final String path;
  private transient List<Path> opened;

  public DirectAppendCommitProtocol(String jobId, String path, boolean dynamicPartitionOverwrite) {
    if (dynamicPartitionOverwrite) {
      throw new IllegalArgumentException(
          "DirectAppendCommitProtocol only appends; a dynamic partition overwrite needs Spark's "
              + "own protocol (its staging folder is what replaces partitions)");
    }
    this.jobId = jobId;
    this.path = path;
  }

  @Override
  public void setupJob(JobContext job) {}

  @Override
  public void commitJob(JobContext job, Seq<TaskCommitMessage> tasks) {}

  @Override
  public void abortJob(JobContext job) {}

  @Override
  public void setupTask(TaskAttemptContext task) {
    opened = new ArrayList<>();
  }

  @Override
  public String newTaskTempFile(TaskAttemptContext task, Option<String> dir, FileNameSpec spec) {
    int split = task.getTaskAttemptID().getTaskID().getId();
    String name = String.format("%spart-%05d-%s%s", spec.prefix(), split, jobId, spec.suffix());
    Path file = dir.isDefined() ? new Path(new Path(path, dir.get()), name) : new Path(path, name);
    if (opened == null) {
      opened = new ArrayList<>();
    }
    opened.add(file);
    return file.toString();
  }

  @Override
  public String newTaskTempFileAbsPath(TaskAttemptContext task, String dir, FileNameSpec spec) {
    throw new UnsupportedOperationException(
        "DirectAppendCommitProtocol writes under the table's path only, not to " + dir);
  }

  @Override
  public TaskCommitMessage commitTask(TaskAttemptContext task) {
    List<String> files = new ArrayList<>();
    if (opened != null) {
      for (Path file : opened) {
        files.add(file.toString());
      }
    }
    return new TaskCommitMessage(files);
  }

  @Override
  public void abortTask(TaskAttemptContext task) {
    if (opened == null) {
      return;
    }
    for (Path file : opened) {
      try {
        file.getFileSystem(task.getConfiguration()).delete(file, false);
      } catch (IOException cannotDelete) {
        // Best effort: the batch's replay replaces its folders, this file included.
      }
    }
  }
}
